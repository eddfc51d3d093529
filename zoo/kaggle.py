"""Run-length encoding and submission files for Kaggle / Dacon segmentation competitions:
binary masks (:func:`write_submission`), one row per image and class
(:func:`write_class_submission`) and class ids as one string per image
(:func:`write_id_strings`), each with its reader to check a file parses back.

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
    table = [(image_id, mask if isinstance(mask, str) else rle_encode(mask, order=order))
             for image_id, mask in rows]  # encoded first: a bad mask writes no file
    return _write_csv(path, header, table, overwrite)


def read_submission(path, shapes: dict[str, tuple[int, int]], *,
                    order: str = "column") -> dict[str, np.ndarray]:
    """The (H, W) 0/1 masks of a :func:`write_submission` file (``shapes``: each id's)."""
    maps = {}
    for image_id, rle in _read_csv(path, 2):
        if image_id not in shapes:
            raise ValueError(f"{path}: image {image_id!r} has no shape given")
        maps[image_id] = rle_decode(rle, shapes[image_id], order=order)
    return maps


def write_class_submission(path, rows: Iterable[tuple[str, object]], *, num_classes: int,
                           header: tuple[str, str, str] = ("ImageId", "ClassId",
                                                           "EncodedPixels"),
                           order: str = "column", overwrite: bool = False) -> Path:
    """Kaggle's multi-class form (Severstal, Understanding Clouds): one row per image
    and foreground class 1..K-1, the class's pixels run-length encoded ("" where the
    image has none). ``rows``: (id, (H, W) class ids). Written whole; an existing file
    is kept unless ``overwrite``."""
    rows = [(image_id, _class_ids(ids, num_classes, image_id)) for image_id, ids in rows]
    table = [(image_id, c, rle_encode(ids == c, order=order))
             for image_id, ids in rows for c in range(1, num_classes)]
    return _write_csv(path, header, table, overwrite)


def read_class_submission(path, shapes: dict[str, tuple[int, int]], *,
                          order: str = "column") -> dict[str, np.ndarray]:
    """The class maps of a :func:`write_class_submission` file (``shapes``: each id's
    (H, W)); a pixel claimed by two classes raises ``ValueError``."""
    maps = {}
    for image_id, class_id, rle in _read_csv(path, 3):
        if image_id not in shapes:
            raise ValueError(f"{path}: image {image_id!r} has no shape given")
        ids = maps.setdefault(image_id, np.zeros(shapes[image_id], np.uint8))
        pixels = rle_decode(rle, shapes[image_id], order=order).astype(bool)
        if (ids[pixels] != 0).any():
            raise ValueError(f"{path}: image {image_id!r} gives a pixel to two classes")
        ids[pixels] = int(class_id)
    return maps


def write_id_strings(path, rows: Iterable[tuple[str, object]], *, num_classes: int,
                     size: tuple[int, int] | None = None,
                     header: tuple[str, str] = ("image_id", "PredictionString"),
                     overwrite: bool = False) -> Path:
    """The COCO-style competitions' form: one row per image, its class ids as one
    space-separated string, row by row, at ``size`` (H, W; nearest-neighbour resizing,
    e.g. the 256x256 that trash-segmentation leaderboards take) or as predicted."""
    table = []
    for image_id, ids in rows:
        ids = resized_ids(_class_ids(ids, num_classes, image_id), size)
        table.append((image_id, " ".join(map(str, ids.ravel()))))
    return _write_csv(path, header, table, overwrite)


def read_id_strings(path, shapes: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    """The (H, W) class maps of a :func:`write_id_strings` file (``shapes``: each id's)."""
    maps = {}
    for image_id, text in _read_csv(path, 2):
        if image_id not in shapes:
            raise ValueError(f"{path}: image {image_id!r} has no shape given")
        shape = shapes[image_id]
        values = np.array(text.split(), dtype=np.int64)
        if values.size != shape[0] * shape[1]:
            raise ValueError(f"{path}: image {image_id!r} holds {values.size} ids, not "
                             f"{shape[0]}x{shape[1]}")
        maps[image_id] = values.reshape(shape).astype(np.uint8)
    return maps


def _class_ids(ids, num_classes: int, image_id: str) -> np.ndarray:
    from .checks import class_map

    ids = np.asarray(class_map(ids, num_classes, f"class map of {image_id}"))
    if ids.ndim != 2:
        raise ValueError(f"class map of {image_id} must be (H, W), got {ids.shape}")
    return ids.astype(np.uint8)


def resized_ids(ids: np.ndarray, size) -> np.ndarray:
    """(H, W) class ids at ``size`` (H, W) by nearest neighbour, as :func:`write_id_strings`
    resizes them."""
    return ids if size is None or ids.shape == tuple(size) else _nearest(ids, size)


def _nearest(ids: np.ndarray, size) -> np.ndarray:
    """Nearest-neighbour resizing by pixel centres (no new ids)."""
    rows = ((np.arange(size[0]) + 0.5) * ids.shape[0] / size[0]).astype(int)
    cols = ((np.arange(size[1]) + 0.5) * ids.shape[1] / size[1]).astype(int)
    return ids[rows[:, None], cols[None, :]]


def _write_csv(path, header, table, overwrite: bool) -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; choose another path or pass overwrite=True")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist; create it first")

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(table)

    write_atomic(path, write)
    return path


def _read_csv(path, columns: int) -> list[list[str]]:
    with Path(path).open(newline="") as file:
        rows = list(csv.reader(file))[1:]
    bad = [i + 2 for i, row in enumerate(rows) if len(row) != columns]
    if bad:
        raise ValueError(f"{path}: line {bad[0]} does not hold {columns} columns")
    return rows
