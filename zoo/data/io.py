"""Reading images: PNG/JPEG/BMP/GIF via Pillow, TIFF (also multi-page) via tifffile."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif")


def read_image(path) -> np.ndarray:
    """One image as stored: (H, W) or (H, W, C), original dtype."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    with _unreadable_named(path):
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            return np.asarray(tifffile.imread(path))
        from PIL import Image

        with Image.open(path) as image:
            return np.asarray(image)


@contextlib.contextmanager
def _unreadable_named(path: Path):
    """A file the image libraries cannot decode -> ``ValueError`` naming it."""
    try:
        yield
    except (OSError, ValueError, SyntaxError, IndexError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable image ({type(error).__name__}: "
                         f"{str(error)[:120]}); replace or remove the file") from error


def read_stack(path) -> np.ndarray:
    """A multi-page TIFF as (N, H, W[, C]); a single image becomes N = 1."""
    import tifffile

    with _unreadable_named(Path(path)), tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        stack, axes = np.asarray(series.asarray()), series.axes
    if "S" in axes and axes.index("S") < axes.index("Y"):  # planar samples -> last
        stack = np.moveaxis(stack, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    single = stack.ndim == 2 or (stack.ndim == 3 and axes.endswith("S"))
    return stack[None] if single else stack


def to_unit_float(images: np.ndarray) -> np.ndarray:
    """Integer images -> float32 in [0, 1] by their dtype's range; floats pass through."""
    images = np.asarray(images)
    if np.issubdtype(images.dtype, np.integer):
        return (images / np.iinfo(images.dtype).max).astype(np.float32)
    return images.astype(np.float32)


def with_channel(images: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, H, W, 1); (N, H, W, C) unchanged."""
    return images[..., None] if images.ndim == 3 else images


def list_images(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
