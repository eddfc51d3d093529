"""Accuracy and time to accuracy of one model under the same recipe and budget as every other.

Recipe (the same for every model): random crops of the training slices with
the paper's augmentation, Adam at a constant learning rate, BCE + Dice on the
membrane map, XLA as the presets compile (``zoo.training.setup.default_jit_compile``),
``zoo.training.train`` with validation on the held-out slices every ``val_every`` steps
(V_rand, V_info, pixel error, IoU, Dice) and the checkpoint with the best V_rand kept.
A PyTorch peer trains in the same loop on the torch backend, wrapped as a Keras layer
(:mod:`.torch_peer`), so only the network differs.
The budget is training wall clock (validation excluded) plus a step cap; a model reaches
a threshold at the training time of the first validation whose V_rand is at least that high.

On a folder of one's own (``zoo bench --data DIR``), :func:`data_cell` trains each model
exactly as ``zoo train`` does instead, ranked by validation IoU.
"""

from __future__ import annotations

import keras

from . import subjects


def score_key(record: dict) -> str:
    """The score a cell is ranked by: V_rand where its validation has ISBI labels, else
    IoU (the mean over the foreground classes for class maps)."""
    return "v_rand" if record.get("v_rand") is not None else "iou"


def time_to(curve: list[dict], threshold: float, key: str = "val_v_rand") -> float | None:
    """Training seconds at the first point with ``key`` >= ``threshold`` (``None``: never)."""
    return next((p["train_s"] for p in curve if p.get(key, -1.0) >= threshold), None)


def _keras_model(subject: str, size: int, options=None):
    """The Keras model an accuracy cell trains: a PyTorch peer wrapped for the torch backend
    (:mod:`.torch_peer`), every other subject as built."""
    if subjects.framework(subject) == "torch":
        from .torch_peer import keras_model

        return keras_model(subject, size)
    return subjects.build(subject, size, options=options)


def accuracy_cell(spec: dict, data, run_dir) -> dict:
    """Train ``spec["subject"]`` for ``spec["train_seconds"]`` and score it."""
    from .. import losses
    from ..data import SegmentationDataset, paper_augmentation
    from ..training import SegmentationValidation, train
    from ..training.setup import default_jit_compile

    keras.utils.set_random_seed(spec.get("seed", 0))
    size = spec["size"]
    dataset = SegmentationDataset(data.images, data.targets, patch_size=size,
                                  batch_size=spec["batch"], steps=spec["val_every"],
                                  augment=paper_augmentation(), seed=spec.get("seed", 0),
                                  workers=spec.get("workers", 2))

    def build():
        model = _keras_model(spec["subject"], size, spec.get("options"))
        model.compile(keras.optimizers.Adam(spec["lr"]),
                      loss=losses.WeightedCrossEntropy() + losses.DiceLoss(),
                      jit_compile=default_jit_compile())
        return model

    validation = SegmentationValidation(
        data.val_images, data.val_targets, run_dir, isbi_labels=data.val_labels,
        tile_kwargs={"tile_size": size, "overlap": size // 8}, verbose=False)
    run = train(build, dataset, run_dir, steps=spec["max_steps"], validation=validation,
                resume=True, budget_s=spec["train_seconds"], verbose=0)
    return _record(run, spec, data.source)


def _record(run: dict, spec: dict, source: str) -> dict:
    curve = [{k: v for k, v in p.items() if k not in ("epoch", "time")} for p in run["history"]]
    record = {"steps": run["steps"], "train_s": run["train_s"], "curve": curve,
              "best_step": run.get("kept_step"), "data": source}
    for key in ("v_rand", "v_info", "pixel_error", "iou", "dice"):
        record[key] = run.get(key)
    record["score"] = score_key(record)
    record["time_to"] = {f"{t:.2f}": time_to(curve, t, f"val_{record['score']}")
                         for t in spec["thresholds"]}
    return record


def train_settings(spec: dict) -> dict:
    """The ``zoo train`` settings a cell on a user's folder trains with: the library's
    defaults, the cell's model and encoder, crops, batch, budget and classes."""
    _, name, encoder = subjects.parse(spec["subject"])
    options = dict(spec.get("options") or {})
    encoder_options = options.pop("encoder_options", {})
    return {"data": spec["data"], "model": name, "encoder": encoder,
            "encoder_options": encoder_options, "model_options": options,
            "num_classes": spec.get("num_classes", 1), "patch": spec["size"],
            "batch_size": spec["batch"], "steps": spec["max_steps"],
            "checkpoint_every": spec["val_every"], "train_minutes": spec["train_seconds"] / 60,
            "seed": spec.get("seed", 0), "keep": "best"}


def train_command(spec: dict) -> str:
    """The ``zoo train`` command that trains a data cell's model on its own."""
    flags = {**train_settings(spec), "keep": "last"}
    for key in ("steps", "train_minutes", "seed"):
        flags.pop(key)
    words = []
    for key, value in flags.items():
        if key == "encoder_options":
            words += [f"--filters {v}" if k == "filters" else f"--encoder-option {k}={v}"
                      for k, v in value.items()]
        elif key == "model_options":
            words += [f"--model-option {k}={v}" for k, v in value.items()]
        elif not (key == "num_classes" and value == 1):
            words.append(f"--{key.replace('_', '-')} {value}")
    return "zoo train " + " ".join(words) + " --out runs/" + "-".join(
        subjects.parse(spec["subject"])[1:])


def data_cell(spec: dict, run_dir) -> dict:
    """Train ``spec["subject"]`` on a user's folder exactly as ``zoo train`` would (any
    layout it reads, class maps included) for ``spec["train_seconds"]``, keeping the best
    validation checkpoint, and score it on the folder's validation images."""
    from pathlib import Path

    from ..training import config as settings
    from ..training.run import run as train_run

    run_dir = Path(run_dir)
    config = settings.resolve(train_settings(spec))
    run = train_run(config, run_dir, resume=(run_dir / "config.toml").is_file(), verbose=0)
    record = _record(run, spec, run.get("data", spec["data"]))
    record["command"] = train_command(spec)
    return record
