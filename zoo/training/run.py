"""A training run from settings (:mod:`zoo.training.config`): data, model, crops,
validation and :func:`zoo.training.train`, as ``zoo train`` runs it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from .. import machine
from . import config as settings
from .loop import CONFIG, SegmentationValidation, check_run_dir, train
from .setup import compile_model, prepare, set_bn_momentum


def run(config: dict, out, *, resume: bool = False, verbose="auto") -> dict:
    """Train the resolved settings ``config`` (:func:`zoo.training.config.resolve`) in run
    directory ``out`` and return the run's record (``metrics.json``).

    ``resume``: continue the run in ``out`` (its ``config.toml`` settings; pass them
    back with :func:`resume_config`); a fresh run never overwrites an earlier one.
    """
    from ..data import load_training_data, locate
    from ..losses import parse_loss_spec

    out = Path(out)
    check_run_dir(out, resume)
    root = locate(config["dataset"], config["data"]) if config["dataset"] else Path(
        config["data"])
    scope = prepare(seed=config["seed"], precision=config["precision"],
                    xla=config["xla"] == "on", distribute=config["distribute"],
                    batch_size=config["batch_size"])
    weighted = any(name == "wce" for _, name in parse_loss_spec(config["loss"]))
    data = load_training_data(
        root, config["layout"], images=config["images"], masks=config["masks"],
        key=config["key"], mask_suffix=config["mask_suffix"], sequence=config["sequence"],
        train_slices=config["train_slices"], val_slices=config["val_slices"],
        val_fraction=config["val_fraction"], context=config["context"],
        num_classes=config["num_classes"], final=config["final"], weight_maps=weighted)
    if config["postprocess"] != "none" and data.layout != "isbi":
        raise ValueError(f"postprocess {config['postprocess']} closes membrane maps (the isbi "
                         f"layout); the {data.layout} layout takes postprocess none")
    print(f"{data.description} ({root})", flush=True)
    config = {**config, "layout": data.layout,  # saved absolute: resumes from any folder
              "data": str(root.expanduser().resolve()) if config["data"] else ""}
    epochs = -(-config["steps"] // config["checkpoint_every"])
    with scope:  # built on resume too: bad settings fail now, and valid crops need its shape
        model = build_model(config, channels=data.images[0].shape[-1],
                            steps=epochs * config["checkpoint_every"])
    dataset = _dataset(config, data, model)
    validation = None if config["final"] else _validation(config, data, out)
    session = {"machine": machine.describe()["label"],
               "matmul_gflops": round(machine.matmul_peak_gflops()["gflops"], 1),
               "xla": config["xla"]}
    budget = config["train_minutes"] * 60 or None
    with scope:
        return train(lambda: model, dataset, out, steps=config["steps"], validation=validation,
                     resume=resume, budget_s=budget, keep=config["keep"],
                     tta=config["tta"] or None, verbose=verbose,
                     info={"preset": config["preset"], "final": config["final"],
                           "data": data.description,
                           "config": config},
                     session=session, jit_compile=None if config["xla"] == "on" else False,
                     config=config)


def resume_config(out, given: dict | None = None) -> dict:
    """The saved settings of the run in ``out`` with the runtime settings of ``given``
    (``train_minutes``, ``workers``, ``xla``, ``distribute``); any other setting of
    ``given`` that differs is refused, naming it."""
    out = Path(out)
    saved_path = out / CONFIG
    if not saved_path.is_file():
        raise FileNotFoundError(f"--resume: no zoo train run in {out} ({CONFIG} is missing); "
                                "drop --resume to start one there")
    saved = settings.read_config(saved_path)
    given = given or {}
    differ = settings.changed_on_resume(saved, given)
    if differ:
        first = next(iter(differ))
        flags = ", ".join("--" + k.replace("_", "-") for k in differ)
        raise ValueError(f"--resume continues {out} as it was started: {first}="
                         f"{saved.get(first)!r} there, {differ[first]!r} here; drop {flags} "
                         "or start a new run in another --out")
    runtime = {k: v for k, v in given.items() if k in settings.RUNTIME}
    return settings.check({**settings.DEFAULTS, **saved, **runtime})


def build_model(config: dict, *, channels: int, steps: int):
    """The compiled network of settings ``config`` for ``channels``-channel input, its
    learning rate decaying over ``steps``, under the current mixed-precision policy."""
    import zoo

    from ..losses import loss_from_spec
    from ..metrics import IoU

    options = dict(config["model_options"])
    if config["deep_supervision"]:
        options["deep_supervision"] = True
    if config["encoder_weights"]:
        options["encoder_weights"] = config["encoder_weights"]
    side = config["patch"] if options.get("padding") == "valid" else None
    model = zoo.build(config["model"], input_shape=(side, side, channels),
                      num_classes=config["num_classes"], encoder=config["encoder"],
                      batch_norm=options.pop("batch_norm", True),
                      encoder_options=config["encoder_options"], **options)
    set_bn_momentum(model, config["bn_momentum"])
    classes = config["num_classes"]
    metric = IoU(2, class_id=1) if classes == 2 and config["layout"] != "folder" \
        else IoU(classes)  # a 2-class isbi or ctc model: its foreground
    return compile_model(model, loss_from_spec(config["loss"]), lr=config["lr"], steps=steps,
                         ema=config["ema"], deep_supervision=config["deep_supervision"],
                         metrics=[metric], optimizer=config["optimizer"],
                         momentum=config["momentum"])


def _margin(config: dict, model) -> tuple[int, int]:
    """The crop side and the context margin around it: a valid-padding model predicts
    the centre of its input (Ronneberger et al. 2015, Fig. 2)."""
    if config["model_options"].get("padding") != "valid":
        return config["patch"], 0
    from ..models import mask_output

    output = int(mask_output(model, model.output_shape)[1])
    return output, (config["patch"] - output) // 2


def _dataset(config: dict, data, model):
    from ..data import SegmentationDataset, paper_augmentation

    augment = (paper_augmentation(rotate=config["rotate"], elastic_sigma=config["elastic_sigma"])
               if config["augment"] == "paper" else None)
    patch, margin = _margin(config, model)
    return SegmentationDataset(data.images, data.masks, data.weights, patch_size=patch,
                               margin=margin, batch_size=config["batch_size"],
                               steps=config["checkpoint_every"], augment=augment,
                               seed=config["seed"], workers=config["workers"],
                               num_classes=config["num_classes"])


def _validation(config: dict, data, out: Path):
    from ..postprocess import watershed_boundaries

    isbi = data.val_labels is not None
    post = config["postprocess"] == "watershed"
    epochs = -(-config["steps"] // config["checkpoint_every"])
    classes = config["num_classes"]
    valid = config["model_options"].get("padding") == "valid"
    return SegmentationValidation(
        data.val_images, data.val_masks, out, isbi_labels=data.val_labels,
        every=config["val_every"] or epochs,
        monitor=("val_post_v_rand" if post else "val_v_rand") if isbi else "val_iou",
        channel=-1 if classes == 1 else (1 if data.layout != "folder" else None),
        tile_kwargs={} if valid else {"tile_size": config["val_tile"],
                                      "overlap": config["val_overlap"]},
        postprocess=partial(watershed_boundaries, sigma=config["watershed_sigma"]) if post
        else None)
