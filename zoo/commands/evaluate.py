"""``zoo evaluate PREDICTIONS LABELS``: IoU, Dice, pixel error, V_rand and V_info per
image and overall, as a table and JSON.

PREDICTIONS is a folder written by ``zoo predict`` (its ``NAME_prob`` maps) or a
``.keras`` model with ``--images DIR`` (predicted here, nothing written). LABELS
is a folder of masks or label images, paired by name as ``zoo.data.load_folder``
pairs them (``--key``, ``--mask-suffix``); every non-zero pixel is foreground.
``--target object`` (default) scores the predicted foreground against it and
V_rand / V_info against its 4-connected regions; ``--target boundary`` is the
ISBI 2012 convention: the model predicts the boundary (label 0, the membranes)
and V_rand / V_info score the regions it encloses (``zoo.evaluation.isbi_scores``:
best over binarisation thresholds, borders thinned). IoU, Dice and the pixel error
(the fraction of pixels on the wrong side of ``--threshold``) score the predicted
class at ``--threshold``. An image whose labels hold no object scores IoU and Dice 1
when nothing is predicted, else 0; V_rand, V_info and the warping error skip it (with
a note) and average over the other images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..data.folders import pair_files
from ..data.io import read_masks, read_pages
from ..files import write_atomic

SCORES = ("iou", "dice", "pixel_error", "v_rand", "v_info", "warping_error")


def add_parser(commands) -> None:
    p = commands.add_parser("evaluate", help="IoU, Dice, pixel error, V_rand, V_info and "
                            "warping error of predictions (or a model) against label images",
                            description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("predictions", type=Path,
                   help="a folder from zoo predict, or a .keras model (with --images)")
    p.add_argument("labels", type=Path, help="a folder of masks or label images")
    p.add_argument("--images", type=Path, help="the images to predict, with a model")
    p.add_argument("--target", choices=["object", "boundary"], default="object",
                   help="what the model predicts: the labels' foreground, or the boundary "
                   "between regions (label 0; ISBI 2012 membranes)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--key", help="pair files by 'id' (the leading id) or a regex (see "
                   "zoo.data.load_folder); default: by name")
    p.add_argument("--mask-suffix", default="", help="label file names end with this")
    p.add_argument("--tta", choices=["flips", "d4"], help="test-time augmentation (model)")
    p.add_argument("--json", type=Path, help="also write the scores here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.json is not None and args.json.exists() and not args.overwrite:
        raise FileExistsError(f"{args.json} exists; choose another --json or --overwrite")
    pages = _pages_to_score(args)
    rows = {}
    for name, probs, label in pages:
        rows[name] = _scores(probs, label, args.target, args.threshold)
    mean = {score: _mean([row[score] for row in rows.values()]) for score in SCORES}
    print(_table(rows, mean))
    empty = [name for name, row in rows.items() if row["v_rand"] is None]
    if empty:
        print(f"V_rand, V_info and the warping error skip {len(empty)} of {len(rows)} image(s) "
              f"whose labels hold no object ({', '.join(empty[:5])}"
              f"{', ...' if len(empty) > 5 else ''}); their means are over the others. IoU "
              "and Dice of an empty label are 1 for an empty prediction, else 0.")
    if args.json is not None:
        record = {"images": rows, "mean": mean, "target": args.target,
                  "threshold": args.threshold, "predictions": str(args.predictions),
                  "labels": str(args.labels), "no_object": empty}
        write_atomic(args.json, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))
    return 0


def _mean(values: list) -> float | None:
    """The mean of the scores defined (``None``: skipped for an image with no object)."""
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _pages_to_score(args):
    """[(name, (H, W) foreground probabilities, (H, W) label image)] for every page."""
    model_given = args.predictions.suffix == ".keras"
    if model_given:
        if args.images is None:
            raise ValueError("a model needs --images DIR: the images to predict and score")
        pairs = pair_files(args.images, args.labels, key=args.key,
                           mask_suffix=args.mask_suffix)
    else:
        if args.images is not None:
            raise ValueError("--images goes with a model; PREDICTIONS is a folder of maps here")
        if not args.predictions.is_dir():
            raise FileNotFoundError(f"predictions folder (or .keras model) not found: "
                                    f"{args.predictions}")
        pairs = pair_files(args.predictions, args.labels, key=args.key,
                           mask_suffix=args.mask_suffix, image_suffix="_prob",
                           what="probability maps (NAME_prob)")
    predict = _predictor(args) if model_given else None
    pages = []
    for source, label_path in pairs:
        maps = predict(source) if predict else [_probabilities(p, source.name)
                                                for p in read_pages(source)]
        labels = read_masks(label_path)
        if len(maps) != len(labels):
            raise ValueError(f"{source.name} has {len(maps)} pages but {label_path.name} has "
                             f"{len(labels)}")
        for page, (probs, label) in enumerate(zip(maps, labels, strict=True)):
            if probs.shape != label.shape:
                raise ValueError(f"{source.name} is {probs.shape} but its labels "
                                 f"{label_path.name} are {label.shape}")
            stem = source.stem.removesuffix("_prob")
            pages.append((stem if len(maps) == 1 else f"{stem}_{page:04d}", probs, label))
    return pages


def _predictor(args):
    from zoo.inference import predict_tiled
    from zoo.models import mask_output
    from zoo.saving import load_model

    from .predict import read_input

    model = load_model(args.predictions)
    classes = mask_output(model, model.output_shape)[-1]
    if classes > 2:
        raise ValueError(f"zoo evaluate scores one foreground class; {args.predictions.name} "
                         f"predicts {classes} classes")

    def predict(path: Path) -> list[np.ndarray]:
        image, stack = read_input(path, model.input_shape[-1])
        foreground = predict_tiled(model, image, tta=args.tta, verbose=False)[..., -1]
        return list(foreground) if stack else [foreground]

    return predict


def _probabilities(page: np.ndarray, name: str) -> np.ndarray:
    """A stored map -> (H, W) float probabilities: 16-bit PNG / 65535, float TIFF as is."""
    if page.ndim == 3:
        if page.shape[-1] > 2:
            raise ValueError(f"{name} holds {page.shape[-1]} classes; zoo evaluate scores one "
                             "foreground class")
        page = page[..., -1]
    if page.dtype == np.uint16:
        return page / 65535.0
    if np.issubdtype(page.dtype, np.integer):
        return page / float(np.iinfo(page.dtype).max)
    page = page.astype(np.float64)
    if not np.isfinite(page).all() or page.min() < 0 or page.max() > 1:
        raise ValueError(f"{name} is not a probability map (values outside [0, 1] or NaN)")
    return page


def _scores(probs: np.ndarray, label: np.ndarray, target: str, threshold: float) -> dict:
    """One image's scores; V_rand, V_info and the warping error are ``None`` where the
    labels hold no object (nothing to split or merge)."""
    from zoo.evaluation import dice_score, iou_score, isbi_scores

    truth = label if target == "object" else 1 - label
    predicted = probs > threshold
    row = {"iou": iou_score(truth, probs, threshold), "dice": dice_score(truth, probs, threshold),
           "pixel_error": float(np.mean(predicted != truth.astype(bool))),
           "v_rand": None, "v_info": None, "warping_error": None}
    if label.any():
        membranes = 1 - probs if target == "object" else probs
        isbi = isbi_scores(label * 255, membranes)
        row.update({score: float(isbi[score]) for score in ("v_rand", "v_info",
                                                            "warping_error")})
    return row


def _table(rows: dict, mean: dict) -> str:
    lines = ["| image | " + " | ".join(SCORES) + " |", "| --- |" + " --- |" * len(SCORES)]
    for name, row in [*rows.items(), ("mean", mean)]:
        lines.append(f"| {name} | " + " | ".join(_shown(row[s], s) for s in SCORES) + " |")
    return "\n".join(lines)


def _shown(value: float | None, score: str) -> str:
    if value is None:
        return "-"
    return f"{value:.{6 if score == 'warping_error' else 4}f}"
