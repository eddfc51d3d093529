"""Synthetic multi-class scenes: the worked competition example and the tests' data.

Objects of up to 10 classes, each class its own shape and texture (hue jittered per
object, so shape and texture decide the class), overlap on a cluttered background;
a later object hides what lies under it. :func:`write_scenes` lays a set out as
competitions ship theirs: ``images/``, class-id ``masks/``, colour masks
(``colour_masks/`` with ``classes.json``, the colour table) and COCO annotations
(``annotations.json``, one compressed-RLE object per visible instance).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import ndimage

CLASSES = ("background", "disc", "square", "triangle", "ring", "bar", "cross", "ellipse",
           "diamond", "star", "crescent")
COLORS = ((0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
          (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60),
          (128, 128, 128))


def synthetic_scenes(n: int, size: int = 128, seed: int = 0, *, num_classes: int = 11,
                     objects: tuple[int, int] = (3, 8)):
    """``n`` scenes of ``num_classes - 1`` object classes (2..11 classes in all).

    Returns:
        images: (n, size, size, 3) float32 in [0, 1].
        masks: (n, size, size) uint8 class ids (0 = background).
        instances: (n, size, size) int32, the visible part of each object (0 = none).
    """
    if not 2 <= num_classes <= len(CLASSES):
        raise ValueError(f"num_classes must be 2..{len(CLASSES)} (background and up to "
                         f"{len(CLASSES) - 1} object classes), got {num_classes}")
    if n < 1 or size < 32:
        raise ValueError(f"need n >= 1 and size >= 32, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), np.float32)
    masks = np.zeros((n, size, size), np.uint8)
    instances = np.zeros((n, size, size), np.int32)
    grid = np.mgrid[:size, :size].astype(np.float32)
    for i in range(n):
        images[i] = _clutter(rng, size)
        for k in range(1, rng.integers(objects[0], objects[1] + 1) + 1):
            class_id = int(rng.integers(1, num_classes))
            shape = _shape(class_id, grid, rng, size)
            if shape.sum() < 16:
                continue
            images[i][shape] = _texture(class_id, grid, rng)[shape]
            masks[i][shape], instances[i][shape] = class_id, k
        images[i] = ndimage.gaussian_filter(images[i], (0.7, 0.7, 0))
        images[i] += rng.normal(0, 0.03, images[i].shape)
    return np.clip(images, 0, 1), masks, instances


def _clutter(rng, size: int) -> np.ndarray:
    """A smooth, low-contrast coloured background with blobs that are no class."""
    field = ndimage.gaussian_filter(rng.random((size, size, 3)), (size / 10, size / 10, 0))
    field = (field - field.min()) / (np.ptp(field) + 1e-6)
    blobs = ndimage.gaussian_filter(rng.random((size, size)), 2) > 0.56
    return (0.25 + 0.3 * field + 0.12 * blobs[..., None]).astype(np.float32)


def _shape(class_id: int, grid, rng, size: int) -> np.ndarray:
    """The pixels of one object of ``class_id`` at a random place, size and angle."""
    r = rng.uniform(0.07, 0.16) * size
    cy, cx = rng.uniform(r, size - r, 2)
    angle = rng.uniform(0, np.pi)
    y, x = grid[0] - cy, grid[1] - cx
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    rho, phi = np.hypot(u, v), np.arctan2(v, u)
    shapes = {
        1: rho < r,
        2: (abs(u) < r * 0.8) & (abs(v) < r * 0.8),
        3: (v > -r * 0.5) & (v < r * 0.9 - 1.7 * abs(u)),
        4: (rho < r) & (rho > r * 0.55),
        5: (abs(u) < r * 1.3) & (abs(v) < r * 0.3),
        6: ((abs(u) < r) & (abs(v) < r * 0.28)) | ((abs(v) < r) & (abs(u) < r * 0.28)),
        7: (u / r) ** 2 + (v / (0.5 * r)) ** 2 < 1,
        8: abs(u) + abs(v) < r,
        9: rho < r * (0.6 + 0.35 * np.cos(5 * phi)),
        10: (rho < r) & (np.hypot(u - 0.45 * r, v) > 0.8 * r),
    }
    return shapes[class_id]


def _texture(class_id: int, grid, rng) -> np.ndarray:
    """(H, W, 3) fill of ``class_id``: its hue (jittered), stripes at its own period."""
    base = np.array(COLORS[class_id], np.float32) / 255
    base = np.clip(0.75 * base + 0.25 * rng.uniform(0.2, 0.8, 3), 0, 1)
    period = 3 + class_id % 5
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((grid[1] * np.cos(angle) + grid[0] * np.sin(angle)) * 2 * np.pi / period)
    return base * (0.8 + 0.2 * stripes[..., None])


def write_scenes(folder, n: int, size: int = 128, seed: int = 0, *,
                 num_classes: int = 11) -> Path:
    """Write ``n`` scenes into ``folder`` as competitions ship them (the module
    docstring); returns the COCO file's path. COCO needs pycocotools (the ``coco``
    extra) to encode its masks."""
    from PIL import Image

    from .coco import encode_rle

    folder = Path(folder)
    for sub in ("images", "masks", "colour_masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    images, masks, instances = synthetic_scenes(n, size, seed, num_classes=num_classes)
    palette = np.array(COLORS[:num_classes], np.uint8)
    coco = {"images": [], "annotations": [],
            "categories": [{"id": c, "name": CLASSES[c]} for c in range(1, num_classes)]}
    for i in range(n):
        name = f"{i:04d}.png"
        Image.fromarray(np.round(images[i] * 255).astype(np.uint8)).save(folder / "images" / name)
        Image.fromarray(masks[i]).save(folder / "masks" / name)
        Image.fromarray(palette[masks[i]]).save(folder / "colour_masks" / name)
        coco["images"].append({"id": i + 1, "file_name": f"images/{name}", "height": size,
                               "width": size})
        for k in np.unique(instances[i])[1:]:
            visible = instances[i] == k
            rows, cols = np.nonzero(visible)
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": i + 1,
                "category_id": int(masks[i][visible][0]), "iscrowd": 0,
                "segmentation": encode_rle(visible), "area": int(visible.sum()),
                "bbox": [int(cols.min()), int(rows.min()), int(np.ptp(cols)) + 1,
                         int(np.ptp(rows)) + 1]})
    (folder / "classes.json").write_text(json.dumps(
        {CLASSES[c]: list(COLORS[c]) for c in range(num_classes)}, indent=1) + "\n")
    path = folder / "annotations.json"
    path.write_text(json.dumps(coco) + "\n")
    return path
