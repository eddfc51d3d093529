"""One loader for training data in any layout ``zoo train`` reads, detected by default.

- ``isbi``: ISBI 2012 (``images/NN.png`` + ``labels/NN.png``, or
  ``train-volume.tif`` + ``train-labels.tif``); the target is the membrane map,
  slices split into training and validation by index (V_rand and V_info scored);
- ``ctc``: a Cell Tracking Challenge 2D set (``01/tNNN.tif`` +
  ``01_GT/SEG/man_segNNN.tif``); the target is the cells;
- ``folder``: ``images/`` + ``masks/`` paired by :func:`zoo.data.load_folder`; every
  non-zero mask pixel is foreground, or masks are class maps (``num_classes >= 2``);
- ``coco``: the images of a COCO annotation file in the data folder (``coco``, e.g.
  ``train.json``) as class maps (:func:`zoo.data.read_coco`: background 0, the
  categories 1..K).

CTC, folder and COCO data validate on their last ``val_fraction`` of annotated images,
or on a given split (``val_data``: a folder with the same subfolders, or a second COCO
file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LAYOUTS = ("isbi", "ctc", "folder", "coco")
CLASS_MAPS = ("folder", "coco")  # the layouts whose masks may be class maps


@dataclass
class TrainingData:
    """Training and validation images (lists or stacks of (H, W, C) float32 in [0, 1])
    and masks ((H, W) uint8: 0/1, or class ids), border weight maps where asked for,
    ISBI labels (0/255) of the validation slices for V_rand (else ``None``), the
    layout and a one-line description. Without validation (``final``) the ``val_*``
    fields are empty."""

    images: list
    masks: list
    weights: list | None
    val_images: list
    val_masks: list
    val_labels: np.ndarray | None
    layout: str
    description: str
    names: list | None = None  # the class names, where the data names them (COCO)
    val_files: list | None = None  # the validation images' names, where known


def detect_layout(root, *, images: str = "images", masks: str = "masks",
                  sequence: str = "01", coco: str = "") -> str:
    """The layout of folder ``root`` (one of ``LAYOUTS``; ``coco`` when a COCO file is
    named), or ``FileNotFoundError`` naming the layouts and ``--layout``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if coco:
        return "coco"
    if (root / f"{sequence}_GT").is_dir():
        return "ctc"
    if (root / "train-volume.tif").is_file() or (
            (root / "images").is_dir() and (root / "labels").is_dir()
            and not (root / masks).is_dir()):
        return "isbi"
    if (root / images).is_dir() and (root / masks).is_dir():
        return "folder"
    raise FileNotFoundError(
        f"{root} is none of the layouts zoo train reads: ISBI 2012 (images/ + labels/, or "
        f"train-volume.tif), CTC ({sequence}/ + {sequence}_GT/SEG/) or image and mask "
        f"folders ({images}/ + {masks}/; other names: --images, --masks) or COCO (--coco "
        "FILE); pass --layout to choose")


def load_training_data(root, layout: str = "auto", *, images: str = "images",
                       masks: str = "masks", key: str = "", mask_suffix: str = "",
                       sequence: str = "01", train_slices: str = "0-19",
                       val_slices: str = "20-24", val_fraction: float = 0.2, context: int = 0,
                       num_classes: int = 1, final: bool = False,
                       weight_maps: bool = False, coco: str = "",
                       val_data: str = "", colors: str = "", folds: int = 0,
                       fold: int = 0) -> TrainingData:
    """Training and validation data from folder ``root`` in ``layout`` ("auto":
    :func:`detect_layout`).

    ``context``: 2.5D input (isbi layout). ``num_classes``: 1 or 2 for the isbi and
    ctc layouts (2: a softmax model whose class 1 is the foreground), any N >= 2 for
    class-map folders and COCO files (the file's categories + 1). ``coco``: the COCO
    file, relative to ``root``. ``val_data``: the given validation split of the folder
    (a folder holding the same subfolders) and coco (a COCO file) layouts. ``final``:
    every annotated image trains (the isbi layout: the training and validation slices;
    ``val_data`` too), nothing validates. ``colors``: the folder layout's colour table
    (:func:`zoo.data.io.read_class_table`) for colour masks, relative to ``root``.
    ``weight_maps``: the U-Net border weight map of each training mask
    (``unet_weight_map``, w0 = 10, sigma = 5). ``folds`` (ctc, folder and coco
    layouts): K-fold cross-validation, fold ``fold`` validates
    (:func:`zoo.data.folds.stratified_folds` over the annotated images).
    """
    from . import load_ctc, load_folder, load_isbi2012, read_coco, unet_weight_map
    from .isbi2012 import parse_slices

    root = Path(root)
    if layout == "auto":
        layout = detect_layout(root, images=images, masks=masks, sequence=sequence)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be auto or one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout not in CLASS_MAPS and num_classes > 2:
        raise ValueError(f"num-classes {num_classes}: the {layout} layout has one foreground "
                         "class (num-classes 1, or 2 for a softmax model); class maps are read "
                         "from image/mask folders (--layout folder) or COCO files (--coco)")
    if val_data and layout in ("isbi", "ctc"):
        raise ValueError(f"val-data {val_data}: a given validation split is for the folder "
                         f"and coco layouts; the {layout} layout validates on "
                         + ("--val-slices" if layout == "isbi" else "--val-fraction"))
    if coco and layout != "coco":
        raise ValueError(f"coco {coco}: a COCO file is read by the coco layout, not the "
                         f"{layout} layout; drop --layout (or --coco)")
    table = _class_table(root, colors, layout, num_classes)
    if layout == "coco" and not coco:
        raise ValueError("the coco layout needs --coco FILE: the COCO annotation file in the "
                         "data folder (e.g. train.json)")
    if folds and (layout == "isbi" or val_data or final):
        why = ("the isbi layout splits by --train-slices / --val-slices" if layout == "isbi"
               else "--val-data is a given split" if val_data else
               "--final trains on every image")
        raise ValueError(f"folds {folds}: k-fold splits the annotated images, but {why}; "
                         "drop --folds or that setting")
    if context and layout != "isbi":
        raise ValueError(f"context {context}: 2.5D input stacks serial sections, which only "
                         "the isbi layout holds; drop --context")
    if layout == "isbi":
        train_index, val_index = parse_slices(train_slices), parse_slices(val_slices)
        if final:
            train_index, val_index = sorted({*train_index, *val_index}), []
        train = load_isbi2012(root, slices=train_index, context=context)
        train_images, train_masks = list(train.images), list(train.membranes)
        labels = list(train.labels)
        if val_index:
            val = load_isbi2012(root, slices=val_index, context=context)
            val_images, val_masks, val_labels = val.images, val.membranes, val.labels
        else:
            val_images, val_masks, val_labels = [], [], None
        what = (f"ISBI 2012 slices {_span(train_index)} train"
                + (f", {_span(val_index)} validate" if val_index else ", nothing validates")
                + "; target: the membranes")
    else:
        def annotated(source):
            """(images, masks, instance labels, class names, file names) of a folder (or
            COCO file)."""
            if layout == "ctc":
                ctc = load_ctc(source, sequence)
                return (list(ctc.images), list(ctc.masks), list(ctc.labels), None,
                        [f"{sequence}_{i:03d}" for i in range(len(ctc.images))])
            if layout == "coco":
                found = read_coco(root / source, root)
                _check_coco_classes(found.names, num_classes, source)
                images_, masks_, names_ = found.images, found.masks, found.names
                files_ = [Path(f).stem for f in found.files]
            else:
                images_, masks_, files_ = load_folder(
                    source / images, source / masks, key=key or None, mask_suffix=mask_suffix,
                    binary=num_classes == 1, colors=table[1] if table else None,
                    return_names=True)
                _check_class_ids(masks_, num_classes)
                names_ = table[0] if table else None
            return (images_, masks_, [(m > 0).astype(np.uint8) for m in masks_], names_,
                    files_)

        found, found_masks, labels, names, files = annotated(
            root if layout != "coco" else coco)
        given = None
        if val_data:
            given = annotated(val_data if layout == "coco" else root / val_data)
            if given[3] != names:
                raise ValueError(f"val-data {val_data} names its classes {given[3]}, the "
                                 f"training data {names}: one category list for both")
            if final:
                found, found_masks, labels, files = (a + b for a, b in zip(
                    (found, found_masks, labels, files), given[:3] + given[4:], strict=True))
                given = None
        channels = {image.shape[-1] for image in found + (given[0] if given else [])}
        if len(channels) > 1:
            raise ValueError(f"{root}: the images have different channel counts "
                             f"{sorted(channels)}; convert them to one (all gray or all RGB)")
        needed = 1 if final or given else 2
        if len(found) < needed:
            raise ValueError(f"{root} holds {len(found)} annotated image(s): at least 2 are "
                             "needed, one to train and one to validate")
        if given:
            train_index, val_index = list(range(len(found))), []
            val_images, val_masks, val_files = given[0], given[1], given[4]
            told = f"{len(val_images)} given validate ({val_data})"
        else:
            if folds:
                from .folds import fold_split, image_classes, stratified_folds

                train_index, val_index = fold_split(stratified_folds(
                    image_classes(found_masks, num_classes), folds), fold)
                told = f"{len(val_index)} validate (fold {fold} of {folds}, stratified)"
            else:
                n_val = 0 if final else min(len(found) - 1,
                                             max(1, round(len(found) * val_fraction)))
                train_index = list(range(len(found) - n_val))
                val_index = list(range(len(found) - n_val, len(found)))
                told = f"{n_val} validate (the last {val_fraction:.0%})" if n_val else \
                    "nothing validates"
            val_images, val_masks, val_files = ([seq[i] for i in val_index]
                                                for seq in (found, found_masks, files))
        val_labels = None
        train_images, train_masks, labels = ([seq[i] for i in train_index]
                                             for seq in (found, found_masks, labels))
        target = "the foreground" if num_classes <= 2 else f"{num_classes} classes"
        what = f"{layout} layout: {len(train_index)} images train, {told}; target: {target}"
    weights = [unet_weight_map(label) for label in labels] if weight_maps else None
    return TrainingData(train_images, train_masks, weights, val_images, val_masks, val_labels,
                        layout, what, names if layout in ("coco", "folder") else None,
                        val_files if layout != "isbi" else None)


def _span(index: list[int]) -> str:
    if len(index) > 1 and index == list(range(index[0], index[-1] + 1)):
        return f"{index[0]}..{index[-1]}"
    return ",".join(map(str, index))


def _class_table(root: Path, colors: str, layout: str, classes: int):
    """(names, {(r, g, b): id}) of the colour table ``colors``, checked, or ``None``."""
    if not colors:
        return None
    from .io import read_class_table

    if layout != "folder":
        raise ValueError(f"colors {colors}: a colour table maps the folder layout's colour "
                         f"masks; the {layout} layout has none, drop --colors")
    names, table = read_class_table(root / colors)
    if classes != len(names):
        raise ValueError(f"{colors} names {len(names)} classes; pass --num-classes "
                         f"{len(names)} (got {classes})")
    return names, table


def _check_coco_classes(names: list, classes: int, source) -> None:
    if classes != len(names):
        raise ValueError(f"{source} has {len(names) - 1} categories, so {len(names)} classes "
                         f"with the background; pass --num-classes {len(names)} (got "
                         f"{classes})")


def _check_class_ids(masks, classes: int) -> None:
    if classes == 1:
        return
    largest = max(int(mask.max()) for mask in masks)
    if largest >= classes:
        raise ValueError(f"--num-classes {classes} takes class ids 0..{classes - 1}, but a "
                         f"mask holds {largest}; pass --num-classes {largest + 1} (or fix "
                         "the masks: 0/255 masks are binary, --num-classes 1)")
