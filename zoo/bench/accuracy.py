"""Accuracy and time to accuracy of one model under the same recipe and budget as every other.

Recipe (the same for every model): random crops of the training slices with
the paper's augmentation, Adam at a constant learning rate, BCE + Dice on the
membrane map, ``zoo.training.train`` with validation on the held-out slices
every ``val_every`` steps (V_rand, V_info, pixel error, IoU, Dice) and the
checkpoint with the best V_rand kept. The budget is training wall clock
(validation excluded) plus a step cap; a model reaches a threshold at the
training time of the first validation whose V_rand is at least that high.
"""

from __future__ import annotations

import keras

from . import subjects


def time_to(curve: list[dict], threshold: float, key: str = "val_v_rand") -> float | None:
    """Training seconds at the first point with ``key`` >= ``threshold`` (``None``: never)."""
    return next((p["train_s"] for p in curve if p.get(key, -1.0) >= threshold), None)


def accuracy_cell(spec: dict, data, run_dir) -> dict:
    """Train ``spec["subject"]`` for ``spec["train_seconds"]`` and score it."""
    from .. import losses
    from ..data import SegmentationDataset, paper_augmentation
    from ..training import SegmentationValidation, train

    keras.utils.set_random_seed(spec.get("seed", 0))
    size = spec["size"]
    dataset = SegmentationDataset(data.images, data.targets, patch_size=size,
                                  batch_size=spec["batch"], steps=spec["val_every"],
                                  augment=paper_augmentation(), seed=spec.get("seed", 0),
                                  workers=spec.get("workers", 2))

    def build():
        model = subjects.build(spec["subject"], size)
        model.compile(keras.optimizers.Adam(spec["lr"]),
                      loss=losses.WeightedCrossEntropy() + losses.DiceLoss())
        return model

    validation = SegmentationValidation(
        data.val_images, data.val_targets, run_dir, isbi_labels=data.val_labels,
        tile_kwargs={"tile_size": size, "overlap": size // 8}, verbose=False)
    run = train(build, dataset, run_dir, steps=spec["max_steps"], validation=validation,
                resume=True, budget_s=spec["train_seconds"], verbose=0)
    curve = [{k: v for k, v in p.items() if k not in ("epoch", "time")} for p in run["history"]]
    record = {"steps": run["steps"], "train_s": run["train_s"], "curve": curve,
              "best_step": run.get("kept_step"), "data": data.source}
    for key in ("v_rand", "v_info", "pixel_error", "iou", "dice"):
        record[key] = run.get(key)
    record["time_to"] = {f"{t:.2f}": time_to(curve, t) for t in spec["thresholds"]}
    return record
