"""A training run from settings (:mod:`zoo.training.config`): data, model, crops,
validation and :func:`zoo.training.train`, as ``zoo train`` runs it."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path

from .. import machine
from ..data.io import IMAGE_SUFFIXES
from ..data.layouts import CLASS_MAPS
from . import config as settings
from .loop import CONFIG, SegmentationValidation, check_run_dir, read_state, train
from .setup import compile_model, prepare, set_bn_momentum


def run(config: dict, out, *, resume: bool = False, verbose="auto") -> dict:
    """Train the resolved settings ``config`` (:func:`zoo.training.config.resolve`) in run
    directory ``out`` and return the run's record (``metrics.json``).

    ``resume``: continue the run in ``out`` (its ``config.toml`` settings; pass them
    back with :func:`resume_config`); a fresh run never overwrites an earlier one.
    """
    from ..data import detect_layout, load_training_data, locate
    from ..losses import parse_loss_spec

    out = Path(out)
    check_run_dir(out, resume)
    root = locate(config["dataset"], config["data"]) if config["dataset"] else Path(
        config["data"])
    auto = config["precision"] == "auto"
    scope = prepare(seed=config["seed"], precision="float32" if auto else config["precision"],
                    xla=config["xla"] == "on", distribute=config["distribute"],
                    batch_size=config["batch_size"])
    weighted = any(name == "wce" for _, name in parse_loss_spec(config["loss"]))
    layout = config["layout"] if config["layout"] != "auto" else detect_layout(
        root, images=config["images"], masks=config["masks"], sequence=config["sequence"],
        coco=config["coco"])
    if config["postprocess"] != "none" and layout != "isbi":
        raise ValueError(f"postprocess {config['postprocess']} closes membrane maps (the isbi "
                         f"layout); the {layout} layout takes postprocess none")
    data = load_training_data(
        root, layout, images=config["images"], masks=config["masks"],
        key=config["key"], mask_suffix=config["mask_suffix"], sequence=config["sequence"],
        train_slices=config["train_slices"], val_slices=config["val_slices"],
        val_fraction=config["val_fraction"], context=config["context"],
        num_classes=config["num_classes"], final=config["final"], weight_maps=weighted,
        coco=config["coco"], val_data=config["val_data"], colors=config["colors"])
    print(f"{data.description} ({root})", flush=True)
    config = {**config, "layout": data.layout,  # saved absolute: resumes from any folder
              "data": str(root.expanduser().resolve()) if config["data"] else ""}
    epochs = -(-config["steps"] // config["checkpoint_every"])
    build = partial(build_model, config, channels=data.images[0].shape[-1],
                    steps=epochs * config["checkpoint_every"])
    with scope:  # built on resume too: bad settings fail now, and valid crops need its shape
        model = build()
    dataset = _dataset(config, data, model)
    precision = None
    if auto:
        precision = _auto_precision(config, out, resume, build, dataset)
        scope = prepare(seed=config["seed"], precision=precision["precision"],
                        xla=config["xla"] == "on", distribute=config["distribute"],
                        batch_size=config["batch_size"])
        with scope:
            model = build()
    validation = None if config["final"] else _validation(config, data, out)
    session = {"machine": machine.describe()["label"],
               "matmul_gflops": round(machine.matmul_peak_gflops()["gflops"], 1),
               "xla": config["xla"], "data": data_fingerprint(root),
               **({"precision": precision} if precision else {})}
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


def _auto_precision(config: dict, out: Path, resume: bool, build, dataset) -> dict:
    """The precision of ``precision = "auto"``: a resumed run keeps the one its first
    session chose (its checkpoint was trained in it); a new run measures
    (:func:`zoo.training.setup.choose_precision`) on its first batch."""
    from .setup import choose_precision

    state = read_state(out) if resume else None
    for session in (state or {}).get("sessions", []):
        if "precision" in session:
            return session["precision"]
    jit = None if config["xla"] == "on" else False

    def compiled():
        model = build()
        if jit is not None:
            model.jit_compile = jit
        return model

    choice = choose_precision(compiled, dataset[0])
    measured = ", ".join(f"{k} {v:.3f} s/step" for k, v in choice["step_s"].items())
    print(f"precision auto: {choice['precision']} ({choice['reason']}"
          + (f": {measured}" if measured else "") + ")", flush=True)
    return choice


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
    given = _moved_data(out, saved, dict(given or {}))
    differ = settings.changed_on_resume(saved, given)
    if differ:
        first = next(iter(differ))
        flags = ", ".join("--" + k.replace("_", "-") for k in differ)
        raise ValueError(f"--resume continues {out} as it was started: {first}="
                         f"{saved.get(first)!r} there, {differ[first]!r} here; drop {flags} "
                         "or start a new run in another --out")
    runtime = {k: v for k, v in given.items() if k in settings.RUNTIME}
    return settings.check({**settings.DEFAULTS, **saved, **runtime})


def _moved_data(out: Path, saved: dict, given: dict) -> dict:
    """``given`` without a ``data`` folder that holds the run's files (the same names and
    sizes as its sessions trained on, :func:`data_fingerprint`), which then replaces the
    saved one in ``saved``; a saved folder that is gone, and no new one, raises naming
    ``--data``. A run cut before its first checkpoint trained nothing: any folder goes."""
    if "data" not in given or not saved.get("data"):
        if saved.get("data") and not Path(saved["data"]).is_dir():
            raise FileNotFoundError(f"--resume: the run's data folder {saved['data']} is gone; "
                                    "if it moved, pass --resume --data NEW_FOLDER")
        return given
    new = Path(given["data"]).expanduser().resolve()
    if str(new) == saved["data"]:
        return {k: v for k, v in given.items() if k != "data"}
    state = read_state(out)
    trained = [s["data"] for s in (state or {}).get("sessions", []) if "data" in s]
    if state is not None and not trained:
        raise ValueError(f"--resume --data {given['data']}: the run in {out} recorded no "
                         "fingerprint of its data to check the folder against; resume with "
                         "the run's own data folder")
    expected, found = (trained[-1] if trained else None), data_fingerprint(new)
    if expected is not None and found != expected:
        raise ValueError(f"--resume --data {given['data']}: its image files differ from the "
                         f"run's ({found['files']} files vs {expected['files']}, or other names "
                         "or sizes); resume with the folder the run trained on")
    saved["data"] = str(new)
    return {k: v for k, v in given.items() if k != "data"}


def data_fingerprint(root) -> dict:
    """The image files under ``root``: their count and the sha256 of their relative
    names and sizes (a moved copy of a folder has the same fingerprint)."""
    root = Path(root)
    files = sorted([p.relative_to(root).as_posix(), p.stat().st_size] for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    digest = hashlib.sha256(json.dumps(files).encode()).hexdigest()
    return {"files": len(files), "sha256": digest}


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
    metric = IoU(2, class_id=1) if classes == 2 and config["layout"] not in CLASS_MAPS \
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
        monitor=("val_post_v_rand" if post else "val_v_rand") if isbi else
        "val_miou" if classes > 2 else "val_iou",
        channel=-1 if classes == 1 else (1 if data.layout not in CLASS_MAPS else None),
        tile_kwargs={} if valid else {"tile_size": config["val_tile"],
                                      "overlap": config["val_overlap"]},
        postprocess=partial(watershed_boundaries, sigma=config["watershed_sigma"]) if post
        else None)
