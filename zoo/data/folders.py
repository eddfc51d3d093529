"""The usual Kaggle/Dacon layout: an image folder and a mask folder, paired by a key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .io import list_images, read_image, read_stack, to_unit_float

LEADING_ID = r"^[^_\-. ]+"


def load_folder(images_dir, masks_dir, *, key: str | Callable[[str], str] | None = None,
                mask_suffix: str = "", binary: bool = True,
                colors: dict[tuple[int, int, int], int] | None = None):
    """Load every image of ``images_dir`` with its mask from ``masks_dir``.

    Pairing: by default ``masks_dir/NAME{mask_suffix}.ext`` belongs to
    ``images_dir/NAME.ext`` (extensions may differ). ``key`` pairs files whose
    names share an id but not a name: ``"id"`` takes the leading id (the name
    up to the first ``_``, ``-``, ``.`` or space: ``21_training.tif`` and
    ``21_manual1.gif`` both give ``21``), a regex string takes its first group
    (or its whole match) from each name without extension, and a callable
    maps that name to the key. Masks without an image are ignored; images
    without a mask, and two files with one key, are errors.

    Files: PNG, JPEG, BMP, GIF and TIFF; integer images are scaled by their
    dtype's range (16-bit by 65535). A multi-page TIFF image pairs with a
    multi-page mask of as many pages and gives one sample per page. Masks:
    grayscale, palette (the palette index is the class) or RGB(A) (alpha is
    ignored; gray saved as RGB is read as gray). With ``binary`` (default) a
    mask's foreground is every pixel that is not 0 (0/255 masks become 0/1);
    otherwise the stored class values are kept, and colour masks need
    ``colors={(r, g, b): class_id}`` for each colour they use.

    Returns (images, masks): lists of (H, W, C) float32 arrays in [0, 1] and
    (H, W) uint8 masks; sizes may differ between pairs.
    """
    pairs = pair_files(images_dir, masks_dir, key=key, mask_suffix=mask_suffix)
    images, masks = [], []
    for image_path, mask_path in pairs:
        image_pages, mask_pages = read_pages(image_path), read_pages(mask_path)
        if len(image_pages) != len(mask_pages):
            raise ValueError(f"{image_path.name} has {len(image_pages)} pages but its mask "
                             f"{mask_path.name} has {len(mask_pages)}")
        for image, mask in zip(image_pages, mask_pages, strict=True):
            image = to_unit_float(image)
            mask = mask_values(mask, binary, colors, mask_path.name)
            if mask.shape != image.shape[:2]:
                raise ValueError(f"{mask_path.name} is {mask.shape}, its image "
                                 f"{image_path.name} is {image.shape[:2]}")
            images.append(image[..., None] if image.ndim == 2 else image)
            masks.append(mask)
    return images, masks


def pair_files(images_dir, masks_dir, *, key=None, mask_suffix: str = "",
               image_suffix: str = "", what: str = "images") -> list[tuple[Path, Path]]:
    """(image, mask) paths paired as :func:`load_folder` pairs them, in image order.

    ``image_suffix``: only files whose name (without extension) ends with it are
    images, and it is removed before the key is taken (``"_prob"`` pairs
    ``zoo predict``'s ``NAME_prob.png`` with ``NAME.png``); ``what`` names the
    images in errors.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    key_of = _key_function(key)
    masks_by_key = _by_key(list_images(masks_dir), key_of, strip=mask_suffix, what="masks")
    images_by_key = _by_key(list_images(images_dir), key_of, strip=image_suffix, what=what)
    if not images_by_key:
        raise FileNotFoundError(f"no {what} in {images_dir} (read: PNG, JPEG, BMP, GIF, TIFF"
                                + (f"; names ending in {image_suffix!r}" if image_suffix else "")
                                + ")")
    missing = [path.name for k, path in images_by_key.items() if k not in masks_by_key]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(images_by_key)} {what} have no mask in {masks_dir} "
            f"(e.g. {missing[0]}; mask_suffix={mask_suffix!r}, key={key!r}): pair files "
            "that share an id but not a name with key='id' or a regex")
    return [(path, masks_by_key[k]) for k, path in images_by_key.items()]


def _key_function(key) -> Callable[[str], str]:
    if key is None:
        return lambda stem: stem
    if callable(key):
        return key
    try:
        pattern = re.compile(LEADING_ID if key == "id" else key)
    except (re.error, TypeError) as error:
        raise ValueError(f"key must be None, 'id', a regex or a function of the file name; "
                         f"{key!r} is not a valid regex ({error})") from None

    def from_pattern(stem: str) -> str:
        match = pattern.search(stem)
        if match is None:
            raise ValueError(f"key {key!r} does not match the file name {stem!r}")
        return match.group(1) if pattern.groups else match.group(0)

    return from_pattern


def _by_key(paths: list[Path], key_of, *, strip: str, what: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        stem = path.stem
        if strip:
            if not stem.endswith(strip):
                continue  # not a mask of this suffix
            stem = stem[:-len(strip)]
        k = key_of(stem)
        if k in found:
            raise ValueError(f"two {what} have the key {k!r}: {found[k].name} and {path.name}; "
                             "pass a key (a regex) that tells them apart")
        found[k] = path
    return found


def read_pages(path: Path) -> list[np.ndarray]:
    """The pages of a (multi-page) TIFF, or the one image of any other file."""
    if path.suffix.lower() in (".tif", ".tiff"):
        return list(read_stack(path))
    return [read_image(path)]


def mask_values(mask: np.ndarray, binary: bool, colors, name: str) -> np.ndarray:
    """A stored mask -> (H, W) uint8: 0/1 with ``binary``, else class ids."""
    if mask.ndim == 3:
        rgb = mask[..., :3] if mask.shape[-1] in (3, 4) else mask[..., :1]
        if (rgb == rgb[..., :1]).all():  # gray, stored as RGB or with an alpha channel
            mask = rgb[..., 0]
        elif binary:
            return rgb.any(axis=-1).astype(np.uint8)
        else:
            return _colour_classes(rgb, colors, name)
    if binary:
        return (mask > 0).astype(np.uint8)
    if mask.min(initial=0) < 0 or mask.max(initial=0) > 255 or (mask % 1).any():
        raise ValueError(f"{name} holds values outside the class ids 0..255 "
                         f"({mask.min()}..{mask.max()}); store class ids, or pass binary=True")
    return mask.astype(np.uint8)


def _colour_classes(rgb: np.ndarray, colors, name: str) -> np.ndarray:
    found = {tuple(int(v) for v in c) for c in np.unique(rgb.reshape(-1, 3), axis=0)}
    if colors is None:
        raise ValueError(f"{name} is a colour mask with {len(found)} colours: pass "
                         "colors={(r, g, b): class_id, ...} to map them, or binary=True")
    unknown = sorted(found - {tuple(c) for c in colors})
    if unknown:
        raise ValueError(f"{name} uses colours not in colors: {unknown[:5]}")
    classes = np.zeros(rgb.shape[:2], np.uint8)
    for colour, class_id in colors.items():
        classes[(rgb == np.asarray(colour)).all(axis=-1)] = class_id
    return classes
