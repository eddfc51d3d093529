"""The one image reader of every command and loader: PNG, JPEG, BMP, GIF and TIFF files
(multi-page too) as pages, images as float pixel values, masks by a rule per format.

Images (:func:`read_images`): palette files (GIF, palette PNG) become their colours
(gray when every palette colour is gray); an alpha channel is dropped (as Pillow's
``convert("RGB")`` and OpenCV do); bilevel files give 0/1; unsigned integers are divided
by their dtype's maximum (255, 65535); float files must hold values in [0, 1], or whole
numbers 0..255 (8-bit data stored as float, divided by 255); signed integers, other
float ranges and NaN are refused, naming the file.

Masks (:func:`read_masks`): a palette file's indices are its class ids (binary masks
take its colours: every colour but black is foreground, whatever its index); gray,
16-bit and float masks are read as stored; RGB(A) masks are gray when their channels agree, else
colours mapped by a colour table (or any colour is foreground when binary); alpha:
a pixel with alpha 0 is background, and a mask of one colour whose alpha varies is read
from its alpha. JPEG masks (lossy: compression noise around every edge) are thresholded
at mid-range with a warning when binary, and refused as class maps.

TIFF: tifffile reads every compression it knows; LZW (and other codecs tifffile leaves
to ``imagecodecs``) fall back to Pillow; planar (separate-sample) files have their
samples moved last, in every command.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif")
TIFF_SUFFIXES = (".tif", ".tiff")
LOSSY_SUFFIXES = (".jpg", ".jpeg")


def read_pages(path, *, palette: str = "colours") -> list[np.ndarray]:
    """Every page of an image file as stored: (H, W) or (H, W, C), samples last, in the
    file's dtype. ``palette``: a palette file's ``"colours"`` (gray, RGB or RGBA) or its
    ``"indices"``. Unreadable files raise ``ValueError`` naming them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    if palette not in ("colours", "indices"):
        raise ValueError(f"palette must be 'colours' or 'indices', got {palette!r}")
    with _unreadable_named(path):
        if path.suffix.lower() in TIFF_SUFFIXES:
            try:
                return _tiff_pages(path)
            except ValueError as error:
                if "imagecodecs" not in str(error):
                    raise
        return _pillow_pages(path, palette)


def page_count(path) -> int:
    """How many pages ``path`` holds, without decoding them."""
    path = Path(path)
    with _unreadable_named(path):
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                return int(np.prod([n for axis, n in zip(series.axes, series.shape,
                                                         strict=True) if axis not in "YXS"]))
        from PIL import Image

        with Image.open(path) as image:
            return int(getattr(image, "n_frames", 1))


def _tiff_pages(path: Path) -> list[np.ndarray]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        stack, axes = np.asarray(series.asarray()), series.axes
    if "S" in axes and axes.index("S") < axes.index("Y"):  # planar samples -> last
        stack = np.moveaxis(stack, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    if stack.ndim == 2 or (stack.ndim == 3 and axes.endswith("S")):
        return [stack]
    return list(stack.reshape(-1, *stack.shape[-(3 if axes.endswith("S") else 2):]))


def _pillow_pages(path: Path, palette: str) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        return [_pillow_array(frame, palette) for frame in ImageSequence.Iterator(image)]


def _pillow_array(frame, palette: str) -> np.ndarray:
    mode = frame.mode
    if mode in ("P", "PA") and palette == "indices":
        return np.asarray(frame.convert("L") if mode == "PA" else frame)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in frame.info
        colours = np.asarray(frame.convert("RGBA" if has_alpha else "RGB"))
        rgb = colours[..., :3]
        if (rgb == rgb[..., :1]).all():  # a gray palette
            return colours[..., [0, 3]] if has_alpha else colours[..., 0]
        return colours
    if mode == "1":
        return np.asarray(frame, dtype=bool)
    if mode.startswith("I;16"):
        return np.asarray(frame).astype(np.uint16)
    if mode == "I":
        array = np.asarray(frame)
        fits = array.size and array.min() >= 0 and array.max() <= 65535
        return array.astype(np.uint16) if fits else array
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
        return np.asarray(frame.convert("RGB"))
    if mode == "La":
        return np.asarray(frame.convert("LA"))
    return np.asarray(frame)


@contextlib.contextmanager
def _unreadable_named(path: Path):
    """A file the image libraries cannot decode -> ``ValueError`` naming it."""
    try:
        yield
    except (OSError, ValueError, SyntaxError, IndexError, KeyError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable image ({type(error).__name__}: "
                         f"{str(error)[:120]}); replace or remove the file") from error


def read_images(path) -> list[np.ndarray]:
    """Every page of an image file as (H, W, C) float32 pixel values in [0, 1] (the
    module's rules)."""
    path = Path(path)
    return [unit_pixels(_without_alpha(page), path.name) for page in read_pages(path)]


def read_image(path) -> np.ndarray:
    """A one-page image file as (H, W, C) float32 in [0, 1]; a multi-page file raises."""
    pages = read_images(path)
    if len(pages) != 1:
        raise ValueError(f"{Path(path).name} holds {len(pages)} pages where one image is "
                         "expected; split the stack or pass it where stacks are read")
    return pages[0]


def read_stack(path) -> np.ndarray:
    """Every page of an image file, stacked: (N, H, W[, C]) as stored (N = 1 for a
    single image); pages of different sizes raise ``ValueError``."""
    pages = read_pages(path)
    if len({page.shape for page in pages}) > 1:
        raise ValueError(f"{Path(path).name}: its pages differ in size "
                         f"{sorted({page.shape for page in pages})}; store one size per file")
    return np.stack(pages)


def _without_alpha(page: np.ndarray) -> np.ndarray:
    if page.ndim == 3 and page.shape[-1] in (2, 4):
        return page[..., :-1]
    return page[..., None] if page.ndim == 2 else page


def unit_pixels(page: np.ndarray, name: str) -> np.ndarray:
    """Stored pixel values -> float32 in [0, 1] by the module's rules; refusals name
    ``name`` and the conversion."""
    if page.dtype == bool:
        return page.astype(np.float32)
    if np.issubdtype(page.dtype, np.unsignedinteger):
        return (page / np.iinfo(page.dtype).max).astype(np.float32)
    if np.issubdtype(page.dtype, np.signedinteger):
        low, high = (int(page.min()), int(page.max())) if page.size else (0, 0)
        raise ValueError(f"{name} holds signed {page.dtype} pixels ({low}..{high}); save "
                         "images as unsigned 8- or 16-bit integers, or as floats in [0, 1]")
    if not np.issubdtype(page.dtype, np.floating):
        raise ValueError(f"{name} holds {page.dtype} pixels; save it as 8- or 16-bit "
                         "integers or floats in [0, 1]")
    bad = page.size - int(np.isfinite(page).sum())
    if bad:
        raise ValueError(f"{name} holds {bad} NaN or infinite pixel(s); fix the file")
    low, high = (float(page.min()), float(page.max())) if page.size else (0.0, 0.0)
    if low >= 0 and high <= 1:
        return page.astype(np.float32)
    if low >= 0 and high <= 255 and np.array_equal(page, np.round(page)):
        return (page / 255.0).astype(np.float32)
    raise ValueError(f"{name} holds float pixels in [{low:g}, {high:g}]; float images must "
                     "be in [0, 1] (or whole numbers 0..255): rescale the file, e.g. "
                     "(x - x.min()) / (x.max() - x.min())")


def read_masks(path, *, binary: bool = True, colors=None) -> list[np.ndarray]:
    """Every page of a mask file as (H, W) uint8: 0/1 with ``binary`` (every non-zero
    pixel, or colour, is foreground), else class ids (colour masks through ``colors``,
    ``{(r, g, b): class_id}``). The module's rules per format."""
    path = Path(path)
    lossy = path.suffix.lower() in LOSSY_SUFFIXES
    if lossy and not binary:
        raise ValueError(f"{path.name}: JPEG compression changes class ids near every edge; "
                         "save class-map masks losslessly (PNG or TIFF)")
    pages = read_pages(path, palette="colours" if binary else "indices")
    if lossy:
        warnings.warn("JPEG masks are lossy: their foreground is taken as the pixels above "
                      "mid-range (compression noise below it is background); save masks as "
                      "PNG for exact values", UserWarning, stacklevel=2)
        return [_thresholded(page) for page in pages]
    return [mask_values(page, binary, colors, path.name) for page in pages]


def _thresholded(page: np.ndarray) -> np.ndarray:
    gray = page[..., :3].mean(axis=-1) if page.ndim == 3 else page
    top = np.iinfo(page.dtype).max if np.issubdtype(page.dtype, np.integer) else 1.0
    return (gray > top / 2).astype(np.uint8)


def mask_values(mask: np.ndarray, binary: bool, colors, name: str) -> np.ndarray:
    """A stored mask page -> (H, W) uint8: 0/1 with ``binary``, else class ids."""
    if mask.ndim == 3:
        mask = _visible(mask)
        if mask.ndim == 3:
            rgb = mask[..., :3] if mask.shape[-1] >= 3 else mask[..., :1]
            if (rgb == rgb[..., :1]).all():  # gray, stored as RGB
                mask = rgb[..., 0]
            elif binary:
                return rgb.any(axis=-1).astype(np.uint8)
            else:
                return _colour_classes(rgb, colors, name)
    if np.issubdtype(mask.dtype, np.floating) and not np.isfinite(mask).all():
        raise ValueError(f"{name} holds NaN or infinite values; fix the mask file")
    if binary:
        return (mask > 0).astype(np.uint8)
    if mask.min(initial=0) < 0 or mask.max(initial=0) > 255 or (mask % 1).any():
        raise ValueError(f"{name} holds values outside the class ids 0..255 "
                         f"({mask.min()}..{mask.max()}); store class ids, or use binary "
                         "masks (--num-classes 1)")
    return mask.astype(np.uint8)


def _visible(mask: np.ndarray) -> np.ndarray:
    """(H, W, 2|4) with alpha: transparent pixels become 0, and a one-colour mask whose
    alpha varies is read from its alpha; (H, W, 1|3) unchanged."""
    if mask.shape[-1] not in (2, 4):
        return mask
    colour, alpha = mask[..., :-1], mask[..., -1]
    if (colour == colour.reshape(-1, colour.shape[-1])[0]).all() and alpha.min() != alpha.max():
        return (alpha > 0).astype(np.uint8)
    return np.where(alpha[..., None] > 0, colour, 0).astype(mask.dtype)


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


def read_class_table(path) -> tuple[list[str], dict[tuple[int, int, int], int]]:
    """A colour table file (JSON ``{"name": [r, g, b], ...}`` in class-id order, the
    background first, as ``zoo.data.write_scenes`` writes ``classes.json``) -> the class
    names and ``{(r, g, b): class_id}`` for :func:`read_masks`."""
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"colour table not found: {path}")
    try:
        table = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not JSON ({error}); a colour table is "
                         '{"background": [0, 0, 0], "name": [r, g, b], ...}') from error
    good = isinstance(table, dict) and len(table) >= 2 and all(
        isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255
                                                   for v in c) for c in table.values())
    if not good:
        raise ValueError(f"{path} must map at least two class names to [r, g, b] colours "
                         '(0..255) in class-id order: {"background": [0, 0, 0], ...}')
    colors = {tuple(c): i for i, c in enumerate(table.values())}
    if len(colors) != len(table):
        raise ValueError(f"{path} gives two classes one colour")
    return list(table), colors


def with_channel(images: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, H, W, 1); (N, H, W, C) unchanged."""
    return images[..., None] if images.ndim == 3 else images


def list_images(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
