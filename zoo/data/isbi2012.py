"""ISBI 2012 EM segmentation (Cardona et al. 2010; the U-Net paper's first data set).

Two layouts are read: PNG folders (``images/NN.png``, ``labels/NN.png``,
``test/NN.png``) and the challenge's multi-page TIFFs (``train-volume.tif``,
``train-labels.tif``, ``test-volume.tif``). Labels are 255 = cell interior, 0 = membrane; the
target is the membrane (boundary) = 1, as the challenge scores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .context import with_context
from .io import list_images, read_pages, read_stack, unit_pixels, with_channel
from .locate import locate

TRAIN_SLICES, VAL_SLICES = range(0, 20), range(20, 25)  # the split every preset and bench uses


def parse_slices(text: str) -> list[int]:
    """'0-19' -> [0, ..., 19]; '3,5,7' -> [3, 5, 7]."""
    try:
        if "-" in text:
            first, last = (int(v) for v in text.split("-"))
            if first > last:
                raise ValueError
            return list(range(first, last + 1))
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"slices {text!r}: write a range FIRST-LAST with FIRST <= LAST "
                         "(e.g. 0-19) or a list (e.g. 3,5,7)") from None


@dataclass
class ISBI2012:
    """images (N, 512, 512, 1) float32 in [0, 1]; membranes (N, 512, 512) uint8
    (1 = membrane, or None for the unlabelled test volume); labels: the raw
    label images (0 / 255) as the ISBI scores take them."""

    images: np.ndarray
    membranes: np.ndarray | None
    labels: np.ndarray | None
    slices: list[int]


def load_isbi2012(root=None, split: str = "train", slices=None,
                  context: int = 0) -> ISBI2012:
    """Load ``split`` ("train": labelled slices, "test": unlabelled) from ``root``
    (default: found by ``zoo.data.locate``: ``$ZOO_DATA/isbi2012``, then the user cache).

    ``slices``: indices to keep (e.g. ``range(20)`` to train on 0..19 and
    ``range(20, 25)`` to validate on 20..24; split by slice, never by crops
    of one slice, since neighbouring slices are 50 nm apart).
    ``context``: 2.5D input, each slice with its ``context`` neighbours on
    either side as channels (images (N, 512, 512, 2 * context + 1); see
    ``zoo.data.with_context``). Neighbours come only from the slices loaded,
    mirrored at their ends, so a training stack never holds a validation
    slice; the slices must therefore be consecutive.
    """
    root = locate("isbi2012", root)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if (root / "images").is_dir() or (root / "test").is_dir():
        images, labels = _png_layout(root, split)
    elif (root / f"{split}-volume.tif").is_file():
        images = read_stack(root / f"{split}-volume.tif")
        labels = read_stack(root / "train-labels.tif") if split == "train" else None
    else:
        raise FileNotFoundError(
            f"no ISBI 2012 data at {root.resolve()}: expected images/NN.png + labels/NN.png "
            f"(+ test/NN.png) or train-volume.tif + train-labels.tif (+ test-volume.tif); "
            f"fetch it with `zoo data fetch isbi2012`, or pass --data DIR"
        )
    index = list(range(len(images))) if slices is None else list(slices)
    if index and max(index) >= len(images):
        raise ValueError(f"slice {max(index)} requested but {root} has {len(images)} {split} "
                         f"slices (0..{len(images) - 1}); choose slices among them (the "
                         "commands: --train-slices, --val-slices)")
    images = with_channel(unit_pixels(images[index], f"{split} images of {root}"))
    if context:
        if np.any(np.diff(index) != 1):
            raise ValueError(f"context={context} stacks adjacent sections, so the slices must "
                             f"be consecutive and ascending; got {index}")
        images = with_context(images, context)
    if labels is None:
        return ISBI2012(images, None, None, index)
    labels = labels[index]
    values = np.unique(labels)
    if not np.isin(values, (0, 255)).all() and not np.isin(values, (0, 1)).all():
        raise ValueError(f"ISBI labels must be 0 (membrane) and 255 (cell), found {values[:8]}")
    return ISBI2012(images, (labels == 0).astype(np.uint8), labels, index)


def _png_layout(root: Path, split: str):
    folder = root / ("images" if split == "train" else "test")
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(f"no images in {folder}")
    images = np.stack([read_pages(p)[0] for p in paths])
    if split == "test":
        return images, None
    label_paths = [root / "labels" / p.name for p in paths]
    missing = [str(p) for p in label_paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"labels missing for {len(missing)} images, e.g. {missing[0]}")
    return images, np.stack([read_pages(p, palette="indices")[0] for p in label_paths])
