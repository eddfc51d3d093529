"""``zoo predict MODEL INPUT --out DIR``: probability maps and masks of an image file,
a folder of images or a multi-page TIFF stack, by overlap-tile inference.

Several models (``zoo predict M1 M2 M3 INPUT``, or a k-fold run folder for all its
folds) predict as an ensemble: each model's probabilities (with ``--tta``) averaged,
weighted by ``--ensemble-weights``; the models may differ in architecture and size.

For each input ``NAME``: ``NAME_prob.png`` (16-bit, p x 65535, the foreground
probability) or ``NAME_prob.tif`` (float32, every class; always for stacks
and models of more than two classes), ``NAME_mask.png`` (0/255 foreground, or
class ids; a multi-page ``NAME_mask.tif`` for stacks) and, with
``--overlay``, ``NAME_overlay.png``. With ``--watershed`` (boundary models, e.g.
the ISBI 2012 membrane maps) the foreground map is first closed by
:func:`zoo.postprocess.watershed_boundaries`, as the ``best`` ISBI recipe scores it.
Each file is written whole (beside it, then renamed), so a stopped run resumes
where it stopped: inputs whose outputs exist are skipped. ``predict.json``
records the model and settings; a rerun with others into the same folder is
refused (``--overwrite`` redoes everything).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from ..data.io import IMAGE_SUFFIXES, list_images, page_count, read_images, read_pages
from ..files import write_atomic

RECORD = "predict.json"


def add_parser(commands) -> None:
    p = commands.add_parser("predict", help="probability maps and masks of images, a folder "
                            "or a TIFF stack (overlap-tile inference, resumable)",
                            description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", type=Path, nargs="+", metavar="MODEL [MODEL ...] INPUT",
                   help="one or more models, then an image (PNG, JPEG, BMP, GIF, TIFF), a "
                   "folder of them or a multi-page stack; a model is a .keras file (saved by "
                   "zoo or any fully convolutional Keras model), a zoo train run folder, or a "
                   "k-fold run folder (all its folds); several models are an ensemble: their "
                   "probabilities averaged; with --pretrained, the input only")
    p.add_argument("--ensemble-weights", metavar="W,W,...", help="several models: one weight "
                   "per model file, in order (default: equal)")
    p.add_argument("--pretrained", metavar="NAME", help="a shipped checkpoint (zoo.pretrained."
                   "list(), e.g. isbi2012/unet-quick) instead of MODEL; its card's inference "
                   "settings apply unless given here")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--threshold", type=float,
                   help="foreground probability above which a pixel is in the mask (0.5)")
    p.add_argument("--tta", choices=["none", "flips", "d4"], help="test-time augmentation")
    p.add_argument("--tile-size", type=int, help="input tile side (default: the model's input "
                   "size, or 256 for models of any size)")
    p.add_argument("--overlap", type=int, help="pixels shared by neighbouring tiles "
                   "(default: a quarter of the tile)")
    p.add_argument("--watershed", action=argparse.BooleanOptionalAction,
                   help="the foreground is a boundary (membrane) probability: close its gaps "
                   "with zoo.postprocess.watershed_boundaries before writing (one- or "
                   "two-class models)")
    p.add_argument("--watershed-sigma", type=float, help="--watershed: Gaussian smoothing "
                   "(px) of the map first (1.0)")
    p.add_argument("--format", choices=["png", "tiff"], default="png",
                   help="probability maps as 16-bit PNG (foreground only) or float32 TIFF")
    p.add_argument("--overlay", action="store_true",
                   help="also write NAME_overlay.png: the image with the mask in red")
    p.add_argument("--rle", type=Path, metavar="CSV",
                   help="also write a Kaggle submission of the masks: ImageId,EncodedPixels, "
                   "or for a multi-class model ImageId,ClassId,EncodedPixels (a row per image "
                   "and class)")
    p.add_argument("--class-ids", type=Path, metavar="CSV",
                   help="multi-class: also write image_id,PredictionString (each image's class "
                   "ids, row by row, space-separated), the COCO-style competitions' form")
    p.add_argument("--class-ids-size", metavar="HxW", help="--class-ids: the size the ids are "
                   "given at (nearest neighbour), e.g. 256x256; default: as predicted")
    p.add_argument("--overwrite", action="store_true",
                   help="redo every input and replace existing outputs")
    p.set_defaults(run=run)


DEFAULTS = {"threshold": 0.5, "tta": None, "tile_size": None, "overlap": None,
            "watershed": False, "watershed_sigma": 1.0}


def resolve(args: argparse.Namespace) -> None:
    """``args.models`` (the model files), ``args.input`` and ``args.weights`` from the
    positional paths (or ``--pretrained``), and every setting not given: the checkpoint
    card's inference settings, else the defaults."""
    card = {}
    if args.pretrained:
        from zoo import pretrained

        if len(args.paths) != 1:
            raise ValueError(f"--pretrained {args.pretrained} takes the input only; got "
                             f"{len(args.paths)} paths")
        card = pretrained.card(args.pretrained)["inference"]
        args.models, args.input = [pretrained.path(args.pretrained)], args.paths[0]
    elif len(args.paths) < 2:
        raise ValueError("give MODEL and INPUT (several models before INPUT for an ensemble; "
                         "or --pretrained NAME INPUT); got 1 path")
    else:
        from zoo.saving import model_files

        args.models = [f for path in args.paths[:-1] for f in model_files(path)]
        args.input = args.paths[-1]
    args.weights = ensemble_weights(args.ensemble_weights, len(args.models))
    for key, default in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, card.get(key, default))
    if args.tta == "none":
        args.tta = None


def run(args: argparse.Namespace) -> int:
    resolve(args)
    if not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must be between 0 and 1, got {args.threshold}")
    inputs = _inputs(args.input)
    size = _size(args.class_ids_size) if args.class_ids_size else None
    if size and args.class_ids is None:
        raise ValueError("--class-ids-size goes with --class-ids CSV")
    for flag, path in (("--rle", args.rle), ("--class-ids", args.class_ids)):
        if path is not None:
            _check_submission_path(path, flag, args.overwrite)
    settings = {"model": _model_record(args.models, args.weights), "threshold": args.threshold,
                "tta": args.tta, "tile_size": args.tile_size, "overlap": args.overlap,
                "watershed": args.watershed, "watershed_sigma": args.watershed_sigma,
                "format": args.format}

    import keras

    from zoo.inference import check_ensemble, predict_ensemble
    from zoo.models import mask_output
    from zoo.saving import load_model

    models = [load_model(path) for path in args.models]
    check_ensemble(models, args.weights)
    model = models[0]
    channels = model.input_shape[-1]
    classes = mask_output(model, model.output_shape)[-1]  # the mask output's, as predicted
    if args.watershed and classes > 2:
        raise ValueError(f"--watershed closes a boundary map, but this model predicts "
                         f"{classes} classes; drop --watershed")
    if args.class_ids is not None and classes <= 2:
        raise ValueError(f"--class-ids writes class maps; {args.models[0].name} predicts one "
                         "foreground class: use --rle")
    created = not args.out.exists()
    _claim(args.out, settings, args.overwrite)
    progress = keras.utils.Progbar(len(inputs), unit_name="input")
    done = skipped = 0
    masks = {}
    try:
        for i, path in enumerate(inputs):
            name = path.stem
            stack = _is_stack(path)
            outputs = _outputs(args.out, name, stack, args.format, args.overlay, classes)
            if not args.overwrite and all(p.exists() for p in outputs.values()):
                skipped += 1
                if args.rle is not None or args.class_ids is not None:
                    masks.update(_read_masks(outputs["mask"], name, stack))
            else:
                image, _ = read_input(path, channels)
                probs = predict_ensemble(models, image, weights=args.weights,
                                         tile_size=args.tile_size, overlap=args.overlap,
                                         tta=args.tta, verbose=False)
                if args.watershed:
                    probs = _closed(probs, args.watershed_sigma)
                mask = _mask(probs, args.threshold)
                _write_outputs(outputs, image, probs, mask, stack, args.overwrite)
                masks.update(_named(mask, name, stack))
                done += 1
            progress.update(i + 1)
    except BaseException:
        if created and done == 0:  # a run that failed at once leaves no folder behind
            shutil.rmtree(args.out, ignore_errors=True)
        raise
    written = _write_submissions(args, masks, classes, size)
    print(f"{done} predicted, {skipped} skipped (outputs exist; --overwrite redoes them) -> "
          f"{args.out}" + "".join(f"; submission {path}" for path in written))
    return 0


def ensemble_weights(text: str | None, count: int) -> list[float] | None:
    """``--ensemble-weights "2,1,1"`` -> [2.0, 1.0, 1.0] for ``count`` model files."""
    if text is None:
        return None
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        raise ValueError(f"--ensemble-weights takes numbers separated by commas, e.g. 2,1,1; "
                         f"got {text!r}") from None
    if len(weights) != count:
        raise ValueError(f"--ensemble-weights gives {len(weights)} weight(s) for {count} model "
                         "file(s) (a k-fold run folder counts each fold): one per model")
    return weights


def _model_record(models: list[Path], weights) -> str | dict:
    """The model(s) in predict.json: one model's path, or an ensemble's paths and weights."""
    paths = [str(Path(m).resolve()) for m in models]
    if len(paths) == 1:
        return paths[0]
    return {"ensemble": paths, "weights": weights or [1.0] * len(paths)}


def _write_submissions(args, masks: dict, classes: int, size) -> list[Path]:
    """The asked-for submission files, each read back and compared with ``masks``."""
    from zoo import kaggle

    rows, shapes = sorted(masks.items()), {name: mask.shape for name, mask in masks.items()}
    written = []
    if args.rle is not None:
        if classes > 2:
            kaggle.write_class_submission(args.rle, rows, num_classes=classes,
                                          overwrite=args.overwrite)
            back = kaggle.read_class_submission(args.rle, shapes)
        else:
            kaggle.write_submission(args.rle, rows, overwrite=args.overwrite)
            back = kaggle.read_submission(args.rle, shapes)
        _check_back(args.rle, back, masks)
        written.append(args.rle)
    if args.class_ids is not None:
        kaggle.write_id_strings(args.class_ids, rows, num_classes=classes, size=size,
                                overwrite=args.overwrite)
        expected = {name: kaggle.resized_ids(mask, size) for name, mask in masks.items()}
        back = kaggle.read_id_strings(args.class_ids, {n: m.shape for n, m in expected.items()})
        _check_back(args.class_ids, back, expected)
        written.append(args.class_ids)
    return written


def _check_back(path: Path, back: dict, masks: dict) -> None:
    wrong = sorted(name for name in masks if name not in back
                   or not np.array_equal(back[name], masks[name]))
    if wrong:
        raise ValueError(f"{path} does not parse back to the predicted masks of "
                         f"{', '.join(wrong[:3])}; report this with the file")


def _size(text: str) -> tuple[int, int]:
    """'256' or '256x192' -> (H, W)."""
    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"--class-ids-size takes H x W in pixels, e.g. 256x256, got {text!r}")
    return (int(parts[0]), int(parts[-1]))


def _inputs(path: Path) -> list[Path]:
    if path.is_dir():
        found = list_images(path)
        if not found:
            raise FileNotFoundError(f"no images in {path} (read: {', '.join(IMAGE_SUFFIXES)})")
        return found
    if not path.is_file():
        raise FileNotFoundError(f"input not found: {path}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"{path.name} is not an image this reads ({', '.join(IMAGE_SUFFIXES)})")
    return [path]


def _check_submission_path(path: Path, flag: str, overwrite: bool) -> None:
    """The submission file can be written: its folder exists, and it does not (or
    ``overwrite``)."""
    if path.is_dir():
        raise IsADirectoryError(f"{flag} {path} is a folder; give a CSV file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{flag} {path}: folder {path.parent} does not exist; create "
                                "it or choose another path")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{flag} {path} exists; choose another path or --overwrite")


def _claim(out: Path, settings: dict, overwrite: bool) -> None:
    """Make ``out`` ours: refuse a folder of other predictions unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; give a folder")
    record = out / RECORD
    if record.is_file() and not overwrite:
        previous = {"watershed": False, "watershed_sigma": 1.0,  # records before these
                    **json.loads(record.read_text())}
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings[k])
            raise ValueError(f"{out} holds predictions made with other settings "
                             f"({', '.join(changed)}); choose another --out, or --overwrite "
                             "to redo them")
    elif out.is_dir() and any(out.iterdir()) and not record.is_file() and not overwrite:
        raise FileExistsError(f"{out} is not empty and holds no {RECORD}; choose an empty or "
                              "new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(record, lambda p: p.write_text(json.dumps(settings, indent=1) + "\n"))


def _is_stack(path: Path) -> bool:
    return page_count(path) > 1


def _outputs(out: Path, name: str, stack: bool, fmt: str, overlay: bool,
             classes: int) -> dict[str, Path]:
    tiff = stack or fmt == "tiff" or classes > 2  # PNG holds the foreground map only
    outputs = {"prob": out / f"{name}_prob.{'tif' if tiff else 'png'}",
               "mask": out / f"{name}_mask.{'tif' if stack else 'png'}"}
    if overlay and not stack:
        outputs["overlay"] = out / f"{name}_overlay.png"
    return outputs


def read_input(path: Path, channels: int) -> tuple[np.ndarray, bool]:
    """An input file as floats in [0, 1]: ((H, W, C), False) or, for a multi-page file,
    ((N, H, W, C), True); wrong ranges, NaN and channel counts raise ``ValueError``."""
    pages = read_images(path)
    stack = len(pages) > 1
    if stack and len({page.shape for page in pages}) > 1:
        raise ValueError(f"{path.name}: its pages differ in size; store one size per file")
    image = np.stack(pages) if stack else pages[0]
    if image.shape[-1] != channels:
        raise ValueError(f"{path.name} has {image.shape[-1]} channel(s) (shape {image.shape}) "
                         f"but the model takes {channels}: convert the images (e.g. to "
                         "grayscale) to match")
    return image, stack


def _closed(probs: np.ndarray, sigma: float) -> np.ndarray:
    """(..., K <= 2) probabilities with the foreground (boundary) map closed by the
    seeded watershed; a two-class model's background stays its complement."""
    from zoo.postprocess import watershed_boundaries

    closed = watershed_boundaries(probs[..., -1], sigma=sigma)
    return np.stack([1 - closed, closed], axis=-1) if probs.shape[-1] == 2 else closed[..., None]


def _mask(probs: np.ndarray, threshold: float) -> np.ndarray:
    """(..., K) probabilities -> uint8 mask: 0/1 for K <= 2, class ids for K > 2."""
    classes = probs.shape[-1]
    if classes > 2:
        return np.argmax(probs, axis=-1).astype(np.uint8)
    return (probs[..., -1] > threshold).astype(np.uint8)


def _named(mask: np.ndarray, name: str, stack: bool) -> dict[str, np.ndarray]:
    if not stack:
        return {name: mask}
    return {f"{name}_{page:04d}": page_mask for page, page_mask in enumerate(mask)}


def _read_masks(path: Path, name: str, stack: bool) -> dict[str, np.ndarray]:
    pages = read_pages(path, palette="indices")
    mask = np.stack(pages) if stack else pages[0]
    return _named(np.where(mask == 255, 1, mask).astype(np.uint8), name, stack)


def _write_outputs(outputs, image, probs, mask, stack, overwrite) -> None:
    import tifffile
    from PIL import Image

    binary = probs.shape[-1] <= 2
    shown = mask * 255 if binary else mask

    def write(key, writer):
        if overwrite or not outputs[key].exists():
            write_atomic(outputs[key], writer)

    if outputs["prob"].suffix == ".png" and binary:
        foreground = np.round(probs[..., -1] * 65535).astype(np.uint16)
        write("prob", lambda p: Image.fromarray(foreground).save(p, format="PNG"))
    else:
        # a page per image with the classes as its samples (one class: a gray page), as
        # zoo.data.io.read_pages reads them back
        one = probs.shape[-1] == 1
        write("prob", lambda p: tifffile.imwrite(
            p, (probs[..., 0] if one else probs).astype(np.float32), photometric="minisblack",
            planarconfig=None if one else "contig"))
    if stack:
        write("mask", lambda p: tifffile.imwrite(p, shown, photometric="minisblack"))
    else:
        write("mask", lambda p: Image.fromarray(shown).save(p, format="PNG"))
    if "overlay" in outputs:
        write("overlay", lambda p: Image.fromarray(_overlay(image, mask)).save(p, format="PNG"))


def _overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, C) image in [0, 1] and (H, W) mask -> uint8 RGB with the mask tinted red."""
    gray = image.mean(axis=-1) if image.shape[-1] != 3 else None
    rgb = np.repeat(gray[..., None], 3, axis=-1) if gray is not None else image.copy()
    red = np.array([1.0, 0.0, 0.0])
    rgb[mask > 0] = 0.6 * rgb[mask > 0] + 0.4 * red
    return np.round(rgb * 255).astype(np.uint8)
