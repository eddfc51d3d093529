"""The usual Kaggle/Dacon layout: an image folder and a mask folder, paired by a key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .io import list_images, read_images, read_masks

LEADING_ID = r"^[^_\-. ]+"


def load_folder(images_dir, masks_dir, *, key: str | Callable[[str], str] | None = None,
                mask_suffix: str = "", binary: bool = True,
                colors: dict[tuple[int, int, int], int] | None = None,
                return_names: bool = False):
    """Load every image of ``images_dir`` with its mask from ``masks_dir``.

    Pairing: by default ``masks_dir/NAME{mask_suffix}.ext`` belongs to
    ``images_dir/NAME.ext`` (extensions may differ). ``key`` pairs files whose
    names share an id but not a name: ``"id"`` takes the leading id (the name
    up to the first ``_``, ``-``, ``.`` or space: ``21_training.tif`` and
    ``21_manual1.gif`` both give ``21``), a regex string takes its first group
    (or its whole match) from each name without extension, and a callable
    maps that name to the key. Masks without an image are ignored; images
    without a mask, and two files with one key, are errors.

    Files are read by :mod:`zoo.data.io`'s rules: PNG, JPEG, BMP, GIF and TIFF
    (LZW too); palette images as their colours, integers divided by their dtype's
    maximum, alpha dropped. A multi-page image pairs with a mask of as many pages and
    gives one sample per page. Masks: gray, palette (the index is the class), RGB(A)
    (gray saved as RGB is gray; transparent pixels are background) or JPEG (thresholded
    at mid-range, with a warning; refused as class maps). With ``binary`` (default) a
    mask's foreground is every pixel that is not 0 (0/255 masks become 0/1); otherwise
    the stored class values are kept, and colour masks need
    ``colors={(r, g, b): class_id}`` for each colour they use.

    Returns (images, masks): lists of (H, W, C) float32 arrays in [0, 1] and
    (H, W) uint8 masks; sizes may differ between pairs. ``return_names``: also each
    sample's name, the image file's stem (``STEM_PPPP`` for page P of a multi-page file,
    as ``zoo predict`` names them).
    """
    pairs = pair_files(images_dir, masks_dir, key=key, mask_suffix=mask_suffix)
    images, masks, names = [], [], []
    for image_path, mask_path in pairs:
        image_pages = read_images(image_path)
        mask_pages = read_masks(mask_path, binary=binary, colors=colors)
        if len(image_pages) != len(mask_pages):
            raise ValueError(f"{image_path.name} has {len(image_pages)} pages but its mask "
                             f"{mask_path.name} has {len(mask_pages)}")
        for page, (image, mask) in enumerate(zip(image_pages, mask_pages, strict=True)):
            if mask.shape != image.shape[:2]:
                raise ValueError(f"{mask_path.name} is {mask.shape}, its image "
                                 f"{image_path.name} is {image.shape[:2]}")
            images.append(image)
            masks.append(mask)
            names.append(image_path.stem if len(image_pages) == 1
                         else f"{image_path.stem}_{page:04d}")
    return (images, masks, names) if return_names else (images, masks)


def pair_files(images_dir, masks_dir, *, key=None, mask_suffix: str = "",
               image_suffix: str = "", what: str = "images") -> list[tuple[Path, Path]]:
    """(image, mask) paths paired as :func:`load_folder` pairs them, in image order.

    ``image_suffix``: only files whose name (without extension) ends with it are
    images, and it is removed before the key is taken (``"_prob"`` pairs
    ``zoo predict``'s ``NAME_prob.png`` with ``NAME.png``); ``what`` names the
    images in errors. Images and masks may share one folder when ``mask_suffix`` tells
    the masks apart (``NAME.tif`` + ``NAME_mask.tif``, e.g. the LGG MRI layout).
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    key_of = _key_function(key)
    together = images_dir.resolve() == masks_dir.resolve()
    if together and not mask_suffix:
        raise ValueError(f"images and masks are both in {images_dir}: give the suffix that "
                         "ends the masks' names (mask_suffix='_mask', --mask-suffix _mask)")
    masks_by_key = _by_key(list_images(masks_dir), key_of, strip=mask_suffix, what="masks")
    image_paths = list_images(images_dir)
    if together:
        image_paths = [p for p in image_paths if not p.stem.endswith(mask_suffix)]
    images_by_key = _by_key(image_paths, key_of, strip=image_suffix, what=what)
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
