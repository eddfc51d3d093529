"""Accuracy and time to accuracy of one model under the same recipe and budget as every other.

Recipe (the same for every model): random crops of the training slices with
the paper's augmentation, Adam at a constant learning rate, BCE + Dice on the
membrane map, ``zoo.training.fit_resumable`` with validation on the held-out
slices every ``val_every`` steps (V_rand, V_info, pixel error, IoU, Dice) and
the checkpoint with the best V_rand kept. The budget is training wall clock
(validation excluded) plus a step cap; a model reaches a threshold at the
training time of the first validation whose V_rand is at least that high.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras

from . import subjects

CURVE = "curve.json"


class TrainingClock(keras.callbacks.Callback):
    """Training time without validation, one learning-curve point per validation,
    and a stop once the budget is spent. The curve is saved with every point, so a
    resumed run continues it."""

    def __init__(self, run_dir, budget_s: float, steps_per_epoch: int):
        super().__init__()
        self.path = Path(run_dir) / CURVE
        self.budget_s, self.steps_per_epoch = budget_s, steps_per_epoch
        self.curve = json.loads(self.path.read_text()) if self.path.is_file() else []

    @property
    def train_seconds(self) -> float:
        return self.curve[-1]["train_s"] if self.curve else 0.0

    @property
    def steps(self) -> int:
        return self.curve[-1]["step"] if self.curve else 0

    def on_epoch_begin(self, epoch, logs=None):
        self.start = self.last_batch = time.perf_counter()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.last_batch = time.perf_counter()
        self.batches += 1
        if self.train_seconds + self.last_batch - self.start >= self.budget_s:
            self.model.stop_training = True  # Keras ends the epoch after this batch

    def on_epoch_end(self, epoch, logs=None):  # runs after SegmentationValidation
        point = {"step": self.steps + self.batches,
                 "train_s": self.train_seconds + self.last_batch - self.start,
                 **{k: float(v) for k, v in (logs or {}).items()}}
        self.curve.append(point)
        self.path.write_text(json.dumps(self.curve, indent=1) + "\n")


def time_to(curve: list[dict], threshold: float, key: str = "val_v_rand") -> float | None:
    """Training seconds at the first point with ``key`` >= ``threshold`` (``None``: never)."""
    return next((p["train_s"] for p in curve if p.get(key, -1.0) >= threshold), None)


def accuracy_cell(spec: dict, data, run_dir) -> dict:
    """Train ``spec["subject"]`` for ``spec["train_seconds"]`` and score it."""
    from .. import losses
    from ..data import SegmentationDataset, paper_augmentation
    from ..training import SegmentationValidation, fit_resumable, read_state

    keras.utils.set_random_seed(spec.get("seed", 0))
    size, val_every = spec["size"], spec["val_every"]
    epochs = max(1, spec["max_steps"] // val_every)
    dataset = SegmentationDataset(data.images, data.targets, patch_size=size,
                                  batch_size=spec["batch"], steps=val_every,
                                  augment=paper_augmentation(), seed=spec.get("seed", 0),
                                  workers=spec.get("workers", 2))

    def build():
        model = subjects.build(spec["subject"], size)
        model.compile(keras.optimizers.Adam(spec["lr"]),
                      loss=losses.WeightedCrossEntropy() + losses.DiceLoss())
        return model

    validation = SegmentationValidation(
        data.val_images, data.val_targets, run_dir, isbi_labels=data.val_labels,
        tile_kwargs={"tile_size": size, "overlap": size // 8})
    if not (Path(run_dir) / "checkpoint.keras").is_file():  # nothing to resume: start afresh
        for stale in ("state.json", CURVE):
            (Path(run_dir) / stale).unlink(missing_ok=True)
    clock = TrainingClock(run_dir, spec["train_seconds"], val_every)
    state = read_state(run_dir)
    if state is None or clock.train_seconds < spec["train_seconds"]:
        _, state = fit_resumable(build, dataset, run_dir, epochs=epochs,
                                 resume=state is not None, callbacks=[validation, clock],
                                 verbose=0)
    curve = clock.curve
    best = max(curve, key=lambda p: p.get("val_v_rand", -1.0)) if curve else {}
    record = {"steps": clock.steps, "train_s": clock.train_seconds, "curve": curve,
              "best_step": best.get("step"), "data": data.source}
    for key in ("v_rand", "v_info", "pixel_error", "iou", "dice"):
        record[key] = best.get(f"val_{key}")
    record["time_to"] = {f"{t:.2f}": time_to(curve, t) for t in spec["thresholds"]}
    return record
