"""A training run from settings (:mod:`zoo.training.config`): data, model, crops,
validation and :func:`zoo.training.train`, as ``zoo train`` runs it."""

from __future__ import annotations

import hashlib
import json
import shutil
from functools import partial
from pathlib import Path

import numpy as np

from .. import machine
from ..data.io import IMAGE_SUFFIXES
from ..data.layouts import CLASS_MAPS
from . import config as settings
from .loop import CONFIG, SegmentationValidation, check_run_dir, read_state, train
from .setup import compile_model, prepare, set_bn_momentum


def run(config: dict, out, *, resume: bool = False, verbose="auto") -> dict:
    """Train the resolved settings ``config`` (:func:`zoo.training.config.resolve`) in run
    directory ``out`` and return the run's record (``metrics.json``; with ``folds``, the
    out-of-fold record of :func:`run_folds`).

    ``resume``: continue the run in ``out`` (its ``config.toml`` settings; pass them
    back with :func:`resume_config`); a fresh run never overwrites an earlier one.
    """
    if config["folds"]:
        return run_folds(config, out, resume=resume, verbose=verbose)
    return _run_one(config, out, resume=resume, verbose=verbose)


def run_folds(config: dict, out, *, resume: bool = False, verbose="auto") -> dict:
    """K-fold cross-validation (``config["folds"]``): fold i trains in ``out/fold-i`` as
    its own run, validating on its held-out images, whose predictions by the kept model
    (with ``tta``) it keeps in ``oof.npz``; ``config["fold"]`` >= 0 trains that fold
    only. Once every fold has its predictions, they are scored together (every image
    predicted by the one model that never saw it) into ``out/oof.json``, returned.
    ``out/config.toml`` holds the settings every fold shares; ``--resume`` continues
    each unfinished fold and skips the finished ones."""
    out = Path(out)
    shared = {**config, "fold": -1,  # absolute: resumes from any folder
              "data": str(Path(config["data"]).expanduser().resolve()) if config["data"] else ""}
    saved = out / CONFIG
    if saved.is_file():
        differ = settings.changed_on_resume(settings.read_config(saved), shared)
        if differ:
            raise ValueError(f"{out} holds folds trained with other settings ({', '.join(differ)}"
                             "); choose another --out, or --resume to continue them")
    elif resume:
        raise FileNotFoundError(f"--resume: no zoo train run in {out} ({CONFIG} is missing); "
                                "drop --resume to start one there")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if not saved.is_file():
        from .loop import write_config

        write_config(saved, shared)
    chosen = range(config["folds"]) if config["fold"] < 0 else [config["fold"]]
    try:
        for i in chosen:
            fold_dir = out / f"fold-{i}"
            if resume and (fold_dir / OOF).is_file():
                print(f"fold {i}: done ({fold_dir})", flush=True)
                continue
            print(f"fold {i} of {config['folds']} -> {fold_dir}", flush=True)
            _run_one({**config, "fold": i}, fold_dir, resume=resume and fold_dir.is_dir(),
                     verbose=verbose)
    except BaseException:
        if created and not any(out.glob("fold-*")):  # nothing trained: leave nothing behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    return score_folds(out, config["folds"])


OOF = "oof.npz"
OOF_RECORD = "oof.json"


def _keep_out_of_fold(config: dict, validation, names: list, out: Path) -> None:
    """The kept model's maps of the fold's validation images (as validation scores them,
    with ``tta``), float16, with their masks and names, in ``out/oof.npz``."""
    from ..files import write_atomic
    from ..saving import load_model

    model = load_model(out / "model.keras")
    probs = validation.predictions(model, **({"tta": config["tta"]} if config["tta"] else {}))
    arrays = {"names": np.array(names, dtype=str)}
    for i, (p, m) in enumerate(zip(probs, validation.masks, strict=True)):
        arrays[f"prob_{i}"], arrays[f"mask_{i}"] = np.asarray(p, np.float16), np.asarray(m)

    def write(path):
        with open(path, "wb") as file:
            np.savez_compressed(file, **arrays)

    write_atomic(out / OOF, write)


def read_out_of_fold(path) -> tuple[list, list, list]:
    """(names, maps, masks) of a fold's ``oof.npz``."""
    with np.load(path) as data:
        n = len(data["names"])
        return (list(data["names"]), [data[f"prob_{i}"].astype(np.float32) for i in range(n)],
                [data[f"mask_{i}"] for i in range(n)])


def score_folds(out, folds: int) -> dict:
    """Each fold's scores and the out-of-fold scores of every image (all folds' kept
    maps scored as one set: IoU and Dice, or mIoU and per-class IoU / Dice over one
    confusion matrix), written to ``out/oof.json`` once every fold has its maps."""
    from ..files import write_json_atomic
    from .loop import score_image_list

    out = Path(out)
    done = [i for i in range(folds) if (out / f"fold-{i}" / OOF).is_file()]
    per_fold, names, maps, masks = {}, [], [], []
    for i in done:
        fold_names, fold_maps, fold_masks = read_out_of_fold(out / f"fold-{i}" / OOF)
        per_fold[i] = _headline(score_image_list(fold_maps, fold_masks))
        names += fold_names
        maps += fold_maps
        masks += fold_masks
    record = {"folds": folds, "done": done, "per_fold": per_fold}
    if len(done) < folds:
        missing = [i for i in range(folds) if i not in done]
        print(f"folds done: {done or 'none'}; still to train: {missing} (zoo train --out "
              f"{out} --resume)", flush=True)
        return record
    record.update({"images": len(names), "names": names,
                   "out_of_fold": score_image_list(maps, masks)})
    write_json_atomic(out / OOF_RECORD, record)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in _headline(record["out_of_fold"]).items())
    print(f"out of fold ({len(names)} images, {folds} folds): {shown} -> {out / OOF_RECORD}",
          flush=True)
    return record


def _headline(scores: dict) -> dict:
    return {k: scores[k] for k in ("miou", "iou", "dice") if k in scores
            and isinstance(scores[k], float)}


def _run_one(config: dict, out, *, resume: bool = False, verbose="auto") -> dict:
    """One run (one fold of ``folds``) in ``out``; see :func:`run`."""
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
        coco=config["coco"], val_data=config["val_data"], colors=config["colors"],
        folds=config["folds"], fold=max(config["fold"], 0))
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
        record = train(lambda: model, dataset, out, steps=config["steps"], validation=validation,
                      resume=resume, budget_s=budget, keep=config["keep"],
                      tta=config["tta"] or None, verbose=verbose,
                      info={"preset": config["preset"], "final": config["final"],
                            "data": data.description,
                            "config": config},
                      session=session, jit_compile=None if config["xla"] == "on" else False,
                      config=config)
        if config["folds"]:
            _keep_out_of_fold(config, validation, data.val_files, out)
    return record


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
                         momentum=config["momentum"], accumulate=config["accumulate"])


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
