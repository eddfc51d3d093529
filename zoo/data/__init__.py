"""Data sets, generators and the paper's data tools.

Each name loads its module on first use (``zoo.data.unet_weight_map`` does not
import albumentations), so ``import zoo`` stays light.
"""

import importlib

EXPORTS = {
    "CoarseGridElastic": "augment", "paper_augmentation": "augment",
    "with_context": "context", "CocoSet": "coco", "read_coco": "coco",
    "CTCData": "ctc", "load_ctc": "ctc",
    "SegmentationDataset": "dataset", "load_folder": "folders",
    "read_images": "io", "read_masks": "io", "ISBI2012": "isbi2012", "load_isbi2012": "isbi2012",
    "TrainingData": "layouts", "detect_layout": "layouts", "load_training_data": "layouts",
    "locate": "locate",
    "synthetic_cells": "synthetic", "synthetic_scenes": "scenes", "write_scenes": "scenes",
    "unet_weight_map": "weight_map",
}


def __getattr__(name: str):
    if name not in EXPORTS:
        raise AttributeError(f"module 'zoo.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *EXPORTS})


__all__ = sorted(EXPORTS)
