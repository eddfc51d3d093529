"""Data-set folders generated from synthetic cells, in the layouts the loaders read."""

from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from zoo.data import synthetic_cells


def _png(array, path):
    Image.fromarray((array * 255).astype(np.uint8)).save(path)


def isbi_png_layout(root, n=4, size=64, test=2):
    images, masks, _ = synthetic_cells(n + test, size, seed=5)
    for folder in ("images", "labels", "test"):
        (root / folder).mkdir(parents=True)
    for i in range(n):
        _png(images[i, ..., 0], root / "images" / f"{i:02d}.png")
        _png(masks[i], root / "labels" / f"{i:02d}.png")
    for i in range(test):
        _png(images[n + i, ..., 0], root / "test" / f"{i:02d}.png")
    return images[:n], masks[:n]


def isbi_tiff_layout(root, n=3, size=48):
    images, masks, _ = synthetic_cells(n, size, seed=6)
    root.mkdir(parents=True, exist_ok=True)
    volume = (images[..., 0] * 255).astype(np.uint8)
    for name, stack in (("train-volume", volume), ("train-labels", masks * 255),
                        ("test-volume", volume)):
        tifffile.imwrite(root / f"{name}.tif", stack.astype(np.uint8), photometric="minisblack")
    return images, masks


def ctc_layout(root, frames=5, annotated=(0, 2, 3, 4), size=64):
    images, _, labels = synthetic_cells(frames, size, seed=7)
    (root / "01").mkdir(parents=True)
    (root / "01_GT" / "SEG").mkdir(parents=True)
    for t in range(frames):
        frame = (images[t, ..., 0] * 65535).astype(np.uint16)
        tifffile.imwrite(root / "01" / f"t{t:03d}.tif", frame)
    for t in annotated:
        seg = root / "01_GT" / "SEG" / f"man_seg{t:03d}.tif"
        tifffile.imwrite(seg, labels[t].astype(np.uint16))
    return images, labels


def mask_folder_layout(root, n=5, size=64, classes=1):
    """``images/NN.png`` + ``masks/NN.png``: binary masks (0/255), or with ``classes`` >= 2
    class maps (ids 0..classes-1: background, then cells split by their label's parity)."""
    images, masks, labels = synthetic_cells(n, size, seed=8)
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for i in range(n):
        _png(images[i, ..., 0], root / "images" / f"{i:02d}.png")
        if classes == 1:
            mask = masks[i].astype(np.uint8) * 255
        else:
            mask = np.where(labels[i] > 0, 1 + labels[i] % (classes - 1), 0).astype(np.uint8)
        Image.fromarray(mask).save(root / "masks" / f"{i:02d}.png")
    return images, masks


def drive_layout(root, train=4, test=2, size=(48, 56)):
    """The DRIVE retinal-vessel layout: ``training/images/NN_training.tif`` (RGB, LZW as
    DRIVE ships them), ``training/1st_manual/NN_manual1.gif`` (vessels 255), the field of
    view in ``training/mask/NN_training_mask.gif``, the same under ``test/`` (``NN_test``)."""
    images, masks, _ = synthetic_cells(train + test, max(size), seed=7)
    h, w = size
    for split, ids, word in (("training", range(21, 21 + train), "training"),
                             ("test", range(1, 1 + test), "test")):
        for folder in ("images", "1st_manual", "mask"):
            (root / split / folder).mkdir(parents=True, exist_ok=True)
        for index, number in enumerate(ids):
            sample = index + (0 if split == "training" else train)
            gray = (images[sample, :h, :w, 0] * 255).astype(np.uint8)
            rgb = np.stack([gray, gray // 2, 255 - gray], axis=-1)
            Image.fromarray(rgb).save(root / split / "images" / f"{number:02d}_{word}.tif",
                                      compression="tiff_lzw")
            vessels = (masks[sample, :h, :w] > 0).astype(np.uint8) * 255
            Image.fromarray(vessels).save(root / split / "1st_manual" / f"{number:02d}_manual1.gif")
            Image.fromarray(np.full((h, w), 255, np.uint8)).save(
                root / split / "mask" / f"{number:02d}_{word}_mask.gif")
    return root
