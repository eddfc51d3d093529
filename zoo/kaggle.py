"""Run-length encoding and submission files for Kaggle / Dacon segmentation competitions.

The Kaggle convention (Data Science Bowl 2018, Airbus, Severstal, ...): pixels are
numbered from 1, top to bottom then left to right (column-major), and a mask is
the space-separated pairs "start length" of its runs of 1s; "1 3 10 5" is pixels
1, 2, 3 and 10..14. Some competitions number the pixels row by row instead (left
to right, then top to bottom): ``order="row"``. An empty mask is "".
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .checks import binary_mask
from .files import write_atomic

ORDERS = {"column": "F", "row": "C"}


def _numpy_order(order: str) -> str:
    if order not in ORDERS:
        raise ValueError(f"order must be 'column' (Kaggle's usual convention: top to bottom, "
                         f"then left to right) or 'row' (left to right, then top to bottom), "
                         f"got {order!r}")
    return ORDERS[order]


def rle_encode(mask, *, order: str = "column") -> str:
    """(H, W) binary mask (0/1 or bool) -> "start length ..." with 1-indexed starts."""
    flat_order = _numpy_order(order)
    mask = binary_mask(mask)
    if mask.ndim != 2:
        raise ValueError(f"rle_encode takes one (H, W) mask, got shape {mask.shape}: "
                         "squeeze a channel axis (mask[..., 0]) or encode masks one by one")
    pixels = np.concatenate([[False], mask.ravel(order=flat_order), [False]])
    edges = np.flatnonzero(pixels[1:] != pixels[:-1]) + 1  # 1-indexed run starts and ends
    starts, ends = edges[0::2], edges[1::2]
    return " ".join(f"{s} {n}" for s, n in zip(starts, ends - starts, strict=True))


def rle_decode(rle: str, shape: tuple[int, int], *, order: str = "column") -> np.ndarray:
    """"start length ..." (1-indexed) -> (H, W) uint8 mask of 0 and 1.

    Raises ``ValueError`` for an odd number of values, non-integers, starts below 1,
    lengths below 1, runs past the image's H * W pixels or overlapping/unsorted runs.
    """
    flat_order = _numpy_order(order)
    if len(shape) != 2 or any(int(side) < 1 for side in shape):
        raise ValueError(f"shape must be (H, W) with positive sides, got {shape}")
    size = int(shape[0]) * int(shape[1])
    text = "" if rle is None or (isinstance(rle, float) and np.isnan(rle)) else str(rle)
    tokens = text.split()
    if len(tokens) % 2:
        raise ValueError(f"a run-length string holds pairs 'start length', got "
                         f"{len(tokens)} values: {text[:60]!r}")
    try:
        runs = np.array(tokens, dtype=np.int64).reshape(-1, 2)
    except ValueError:
        raise ValueError(f"a run-length string holds integers only, got {text[:60]!r}") from None
    starts, lengths = runs[:, 0], runs[:, 1]
    if (starts < 1).any() or (lengths < 1).any():
        raise ValueError("run starts are 1-indexed and lengths positive; found start "
                         f"{starts.min()} / length {lengths.min()} (0-indexed starts? add 1)")
    ends = starts + lengths - 1
    if ends.max(initial=0) > size:
        raise ValueError(f"a run ends at pixel {ends.max()} but a {shape[0]}x{shape[1]} image "
                         f"has {size}: wrong shape (H and W swapped?) or order")
    if (starts[1:] <= ends[:-1]).any():
        raise ValueError("runs must be sorted and must not overlap")
    flat = np.zeros(size, np.uint8)
    for start, end in zip(starts, ends, strict=True):
        flat[start - 1:end] = 1
    return flat.reshape(shape, order=flat_order)


def write_submission(path, rows: Iterable[tuple[str, object]], *,
                     header: tuple[str, str] = ("ImageId", "EncodedPixels"),
                     order: str = "column", overwrite: bool = False) -> Path:
    """Write a submission CSV: one row per (id, mask) where mask is an (H, W) binary
    array (encoded here) or an already encoded string. Returns the path.

    An existing file is kept unless ``overwrite=True``; the file appears whole
    (:func:`zoo.files.write_atomic`).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; choose another path or pass overwrite=True")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist; create it first")

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            for image_id, mask in rows:
                writer.writerow([image_id, mask if isinstance(mask, str)
                                 else rle_encode(mask, order=order)])

    write_atomic(path, write)  # a bad mask leaves no half-written file behind
    return path
