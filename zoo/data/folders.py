"""The usual Kaggle/Dacon layout: an image folder and a mask folder matched by file name."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import list_images, read_image, to_unit_float


def load_folder(images_dir, masks_dir, *, mask_suffix: str = "", binary: bool = True):
    """Load ``images_dir/NAME.ext`` with ``masks_dir/NAME{mask_suffix}.ext``.

    Returns (images, masks): lists of (H, W, C) float32 arrays in [0, 1] and
    (H, W) masks (uint8 0/1 with ``binary``, else the stored class values);
    sizes may differ between pairs. Raises on images without masks.
    """
    masks_dir = Path(masks_dir)
    by_stem = {p.stem: p for p in list_images(masks_dir)}
    images, masks, missing = [], [], []
    for path in list_images(images_dir):
        mask_path = by_stem.get(path.stem + mask_suffix)
        if mask_path is None:
            missing.append(path.name)
            continue
        image = to_unit_float(read_image(path))
        mask = read_image(mask_path)
        if mask.ndim == 3:
            mask = mask[..., 0]
        if mask.shape != image.shape[:2]:
            raise ValueError(f"{mask_path.name} is {mask.shape}, its image {path.name} is "
                             f"{image.shape[:2]}")
        images.append(image[..., None] if image.ndim == 2 else image)
        masks.append((mask > 0).astype(np.uint8) if binary else mask)
    if missing:
        raise FileNotFoundError(f"{len(missing)} images have no mask in {masks_dir} "
                                f"(e.g. {missing[0]}; mask_suffix={mask_suffix!r})")
    if not images:
        raise FileNotFoundError(f"no images in {images_dir}")
    return images, masks
