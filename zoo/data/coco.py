"""COCO segmentation annotations (polygons, RLE, compressed RLE) as class maps, read
with ``pycocotools`` (``pip install "unet-zoo[coco]"``).

Class ids: 0 is the background; the file's categories, in the order of their COCO
``id``, are 1..K (ids need not be contiguous), their names kept. Overlapping
annotations: objects are drawn largest first, so a smaller object lying on a larger
one keeps its pixels (equal areas: the later annotation on top); ``iscrowd`` regions
are drawn the same way. Pixels no annotation covers are background.

Image files: each image's ``file_name`` relative to the folder given (as the files
competitions ship are laid out), or to its ``images/`` subfolder.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class CocoSet:
    """Images ((H, W, C) float32 in [0, 1]), their (H, W) uint8 class maps, the image
    file names as listed, and the class names (``names[0] == "background"``)."""

    images: list
    masks: list
    files: list
    names: list


def read_coco(annotations, root=None, *, images: bool = True) -> CocoSet:
    """Every image of the COCO file ``annotations`` with its class map (the module's
    rules). ``root``: the folder the images' ``file_name`` are relative to (default:
    the annotation file's folder). ``images=False`` reads the class maps only."""
    from .io import read_images

    annotations = Path(annotations)
    coco = _load(annotations)
    root = Path(root) if root is not None else annotations.parent
    classes = {category: c for c, category in enumerate(sorted(coco.getCatIds()), start=1)}
    if len(classes) > 254:
        raise ValueError(f"{annotations.name} has {len(classes)} categories; class maps hold "
                         "at most 255 classes (uint8)")
    names = ["background"] + [coco.loadCats(category)[0]["name"] for category in classes]
    found = CocoSet([], [], [], names)
    for info in coco.loadImgs(sorted(coco.getImgIds())):
        found.files.append(info["file_name"])
        if images:
            path = _image_path(root, info["file_name"], annotations)
            pages = read_images(path)
            if pages[0].shape[:2] != (info["height"], info["width"]):
                raise ValueError(f"{path} is {pages[0].shape[:2]} but {annotations.name} gives "
                                 f"it {info['height']}x{info['width']}: the annotations belong "
                                 "to other files")
            found.images.append(pages[0])
        found.masks.append(class_map(coco, info, classes))
    if not found.files:
        raise ValueError(f"{annotations} lists no images")
    return found


def class_map(coco, info: dict, classes: dict[int, int]) -> np.ndarray:
    """(H, W) uint8 class ids of image ``info`` (a ``coco.loadImgs`` entry);
    ``classes`` maps COCO category ids to class ids."""
    mask = np.zeros((info["height"], info["width"]), np.uint8)
    objects = coco.loadAnns(coco.getAnnIds(imgIds=info["id"], iscrowd=None))
    for obj in objects:
        rle = obj["segmentation"]
        if isinstance(rle, dict) and list(rle.get("size", [])) != list(mask.shape):
            raise ValueError(f"annotation {obj.get('id')} of {info['file_name']} is an RLE "
                             f"of size {rle.get('size')}, its image {list(mask.shape)}")
    drawn = [(coco.annToMask(obj).astype(bool), classes[obj["category_id"]])
             for obj in objects]
    order = sorted(range(len(drawn)), key=lambda i: (-int(drawn[i][0].sum()), i))
    for i in order:  # largest first: smaller objects stay on top
        pixels, class_id = drawn[i]
        mask[pixels] = class_id
    return mask


def encode_rle(mask) -> dict:
    """A boolean (H, W) mask as COCO compressed RLE: ``{"size": [H, W], "counts": str}``."""
    rle = _pycocotools().mask.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _pycocotools():
    try:
        import pycocotools.coco
        import pycocotools.mask
    except ImportError:
        raise ImportError('COCO annotations are read with pycocotools: pip install '
                          '"unet-zoo[coco]" (or pycocotools)') from None
    return pycocotools


def _load(annotations: Path):
    COCO = _pycocotools().coco.COCO  # noqa: N806  (pycocotools' name)
    if not annotations.is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {annotations}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            coco = COCO(str(annotations))
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        raise ValueError(f"{annotations} is not a COCO annotation file ({type(error).__name__}: "
                         f"{error}); it needs images, annotations and categories") from error
    for key in ("images", "annotations", "categories"):
        if key not in coco.dataset:
            raise ValueError(f"{annotations} has no {key!r} list; a COCO segmentation file "
                             "needs images, annotations and categories")
    unknown = {obj["category_id"] for obj in coco.dataset["annotations"]} - set(coco.cats)
    if unknown:
        raise ValueError(f"{annotations.name}: annotations of category ids "
                         f"{sorted(unknown)} that its categories do not list")
    return coco


def _image_path(root: Path, name: str, annotations: Path) -> Path:
    for path in (root / name, root / "images" / name):
        if path.is_file():
            return path
    raise FileNotFoundError(f"{annotations.name} lists {name}, found neither in {root} nor in "
                            f"{root / 'images'}; pass the folder its file names start from")
