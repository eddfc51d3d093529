"""``zoo evaluate PREDICTIONS LABELS``: IoU, Dice, pixel error, V_rand and V_info per
image and overall, as a table and JSON.

PREDICTIONS is a folder written by ``zoo predict`` (its ``NAME_prob`` maps) or a
``.keras`` model with ``--images DIR`` (predicted here, nothing written); several
models (or a k-fold run folder) are an ensemble (``zoo predict``'s averaging, with
``--ensemble-weights``), scored beside each of its members. LABELS
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

Multi-class (a model of more than two classes, or ``zoo predict``'s ``NAME_prob.tif``
maps of K > 2 classes; the labels are class-id images): the argmax against the labels,
scored as leaderboards score them (:mod:`zoo.confusion`): one confusion matrix over the
whole set, each class's IoU and Dice, their mean (mIoU, background included; a class
neither labelled nor predicted anywhere is left out), the mean of the images' own mIoU
beside it, and the confusion matrix as a table (``--confusion PNG`` draws it).
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
    p.add_argument("paths", type=Path, nargs="+", metavar="PREDICTIONS LABELS",
                   help="a folder from zoo predict, or one or more models (with --images: "
                   ".keras files, zoo train run folders, k-fold run folders; several are an "
                   "ensemble, scored beside each member), then a folder of masks or label "
                   "images")
    p.add_argument("--images", type=Path, help="the images to predict, with a model")
    p.add_argument("--ensemble-weights", metavar="W,W,...", help="several models: one weight "
                   "per model file, in order (default: equal)")
    p.add_argument("--target", choices=["object", "boundary"], default="object",
                   help="what the model predicts: the labels' foreground, or the boundary "
                   "between regions (label 0; ISBI 2012 membranes)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--key", help="pair files by 'id' (the leading id) or a regex (see "
                   "zoo.data.load_folder); default: by name")
    p.add_argument("--mask-suffix", default="", help="label file names end with this")
    p.add_argument("--tta", choices=["flips", "d4"], help="test-time augmentation (model)")
    p.add_argument("--ignore-index", type=int, help="multi-class: the label value of pixels "
                   "that count nowhere (e.g. 255)")
    p.add_argument("--class-names", help="multi-class: the names of classes 0..K-1, "
                   "comma-separated")
    p.add_argument("--colors", type=Path, help="multi-class: the labels are colour masks; "
                   "their colour table (JSON {name: [r, g, b]} in class-id order), which "
                   "names the classes too")
    p.add_argument("--per-image", action="store_true", help="multi-class: each image's own "
                   "mIoU too")
    p.add_argument("--confusion", type=Path, help="multi-class: draw the confusion matrix into "
                   "this PNG (needs matplotlib)")
    p.add_argument("--json", type=Path, help="also write the scores here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _sources(args)
    if not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must be between 0 and 1, got {args.threshold}")
    for flag, path in (("--json", args.json), ("--confusion", args.confusion)):
        if path is not None and path.exists() and not args.overwrite:
            raise FileExistsError(f"{path} exists; choose another {flag} or --overwrite")
    pages, classes = _pages_to_score(args)
    if classes > 2:
        return _run_classes(args, pages, classes)
    rows = {}
    for name, probs, label, _ in pages:
        rows[name] = _scores(probs, label, args.target, args.threshold)
    mean = {score: _mean([row[score] for row in rows.values()]) for score in SCORES}
    print(_table(rows, mean))
    members = _member_means(args, pages, mean)
    empty = [name for name, row in rows.items() if row["v_rand"] is None]
    if empty:
        print(f"V_rand, V_info and the warping error skip {len(empty)} of {len(rows)} image(s) "
              f"whose labels hold no object ({', '.join(empty[:5])}"
              f"{', ...' if len(empty) > 5 else ''}); their means are over the others. IoU "
              "and Dice of an empty label are 1 for an empty prediction, else 0.")
    if args.json is not None:
        record = {"images": rows, "mean": mean, "target": args.target,
                  "threshold": args.threshold, "predictions": _shown_sources(args),
                  "labels": str(args.labels), "no_object": empty,
                  **({"members": members} if members else {})}
        write_atomic(args.json, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))
    return 0


def _mean(values: list) -> float | None:
    """The mean of the scores defined (``None``: skipped for an image with no object)."""
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _run_classes(args, pages, classes: int) -> int:
    scores = _class_scores(args, classes)
    images = {name: scores.add(label, probs.argmax(axis=-1), f"the labels of {name} (a class map"
                               "; --ignore-index for unlabelled pixels)")
              for name, probs, label, _ in pages}
    report = scores.report()
    print(_class_table(report))
    if args.per_image:
        print("\n| image | mIoU |\n| --- | --- |")
        print("\n".join(f"| {name} | {_shown(miou, 'miou')} |" for name, miou in images.items()))
    print(f"\nmIoU {_shown(report['miou'], 'miou')} over {classes - len(report['absent'])} "
          f"classes (one confusion matrix over {len(images)} images; the mean of the images' "
          f"own mIoU: {_shown(report['image_miou'], 'miou')}), mean Dice "
          f"{_shown(report['mdice'], 'miou')}, pixel accuracy "
          f"{_shown(report['pixel_accuracy'], 'miou')}"
          + (f"; no pixel of {', '.join(report['absent'])} in labels or predictions (left out)"
             if report["absent"] else ""))
    print("\n" + _confusion_table(report))
    members = _member_class_scores(args, pages, classes, report)
    if args.confusion is not None:
        from zoo.viz import confusion_figure

        figure = confusion_figure(report["confusion"], scores.names)
        write_atomic(args.confusion, lambda p: figure.savefig(p, dpi=110))
        print(f"confusion matrix: {args.confusion}")
    if args.json is not None:
        record = {**report, "image_miou_each": images, "predictions": _shown_sources(args),
                  "labels": str(args.labels), **({"members": members} if members else {})}
        write_atomic(args.json, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))
    return 0


CLASS_FLAGS = ("ignore_index", "class_names", "per_image", "confusion", "colors")


def _class_scores(args, classes: int):
    """The set's :class:`zoo.confusion.ConfusionScores`, or one error naming the flags
    that do not fit a model or maps of ``classes`` classes."""
    from zoo.confusion import ConfusionScores

    if classes <= 2:
        given = [f"--{f.replace('_', '-')}" for f in CLASS_FLAGS if getattr(args, f)
                 not in (None, False)]
        if given:
            raise ValueError(f"{', '.join(given)} go(es) with multi-class predictions (more "
                             "than two classes); these score one foreground class: drop it")
        return None
    if args.target != "object":
        raise ValueError("--target boundary scores a membrane map; multi-class predictions "
                         "are scored by class: drop --target")
    if args.class_names and args.colors:
        raise ValueError("--colors names the classes already: drop --class-names")
    names = args.class_names.split(",") if args.class_names else _colour_table(args)[0]
    if names is not None and len(names) != classes:
        flag = "--class-names" if args.class_names else f"--colors {args.colors.name}"
        raise ValueError(f"{flag} gives {len(names)} names; the predictions have "
                         f"{classes} classes (0..{classes - 1})")
    return ConfusionScores(classes, ignore_index=args.ignore_index, names=names)


def _colour_table(args):
    """(names, {(r, g, b): id}) of ``--colors``, or (None, None)."""
    from zoo.data.io import read_class_table

    return read_class_table(args.colors) if args.colors else (None, None)


def _class_table(report: dict) -> str:
    lines = ["| class | IoU | Dice | labelled px | predicted px |", "| --- |" + " --- |" * 4]
    for row in report["classes"]:
        name = row["name"] if row["name"] == str(row["class"]) else \
            f"{row['class']} {row['name']}"
        lines.append(f"| {name} | {_shown(row['iou'], 'miou')} | {_shown(row['dice'], 'miou')} "
                     f"| {row['truth_pixels']} | {row['predicted_pixels']} |")
    return "\n".join(lines)


def _confusion_table(report: dict) -> str:
    """Rows: labelled class; columns: predicted; each row as fractions of its pixels."""
    from zoo.confusion import row_fractions

    names = [row["name"] for row in report["classes"]]
    fractions = row_fractions(report["confusion"])
    lines = ["| labelled \\ predicted | " + " | ".join(names) + " |",
             "| --- |" + " --- |" * len(names)]
    for name, row in zip(names, fractions, strict=True):
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines)


def _sources(args) -> None:
    """``args.labels`` and what is scored: ``args.models`` (model files, with --images) or
    ``args.predictions`` (a folder of maps); ``args.weights`` of an ensemble."""
    from zoo.saving import is_model_source, model_files

    from .predict import ensemble_weights

    if len(args.paths) < 2:
        raise ValueError("give PREDICTIONS (a folder of maps, or models) and LABELS; got 1 path")
    *sources, args.labels = args.paths
    models = [p for p in sources if is_model_source(p)]
    if len(sources) > 1 and len(models) < len(sources):
        folders = [str(p) for p in sources if p not in models]
        raise ValueError(f"several PREDICTIONS are an ensemble of models; {', '.join(folders)} "
                         "is no model (a .keras file or a zoo train run folder): score one "
                         "folder of maps at a time")
    args.predictions = sources[0] if not models else None
    args.models = [f for path in models for f in model_files(path)]
    args.weights = ensemble_weights(args.ensemble_weights, len(args.models))
    if args.ensemble_weights and len(args.models) < 2:
        raise ValueError("--ensemble-weights weighs several models; drop it")


def _shown_sources(args):
    return [str(p) for p in args.models] if args.models else str(args.predictions)


def _pages_to_score(args):
    """([(name, probabilities, label image, members' probabilities or None)] for every
    page, the number of classes): (H, W) foreground probabilities and a mask for one
    foreground class, (H, W, K) probabilities and class ids for K > 2."""
    if args.models:
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
    predict, classes = _predictor(args) if args.models else (None, None)
    colours = _colour_table(args)[1]  # read once, for every label file
    pages = []
    for source, label_path in pairs:
        maps, members = predict(source) if predict else (
            [_probabilities(p, source.name) for p in read_pages(source)], None)
        found = maps[0].shape[-1] if maps[0].ndim == 3 else 2
        if classes is None:
            classes = found
            _class_scores(args, classes)
        elif found != classes:
            raise ValueError(f"{source.name} holds {found} classes, the maps before it "
                             f"{classes}: score one model's predictions at a time")
        labels = read_masks(label_path, binary=classes <= 2, colors=colours)
        if len(maps) != len(labels):
            raise ValueError(f"{source.name} has {len(maps)} pages but {label_path.name} has "
                             f"{len(labels)}")
        for page, (probs, label) in enumerate(zip(maps, labels, strict=True)):
            if probs.shape[:2] != label.shape:
                raise ValueError(f"{source.name} is {probs.shape[:2]} but its labels "
                                 f"{label_path.name} are {label.shape}")
            stem = source.stem.removesuffix("_prob")
            pages.append((stem if len(maps) == 1 else f"{stem}_{page:04d}", probs, label,
                          [m[page] for m in members] if members else None))
    return pages, classes


def _predictor(args):
    """(predict(path) -> (maps, each member's maps or None), classes) of the models."""
    from zoo.inference import check_ensemble, predict_ensemble
    from zoo.models import mask_output
    from zoo.saving import load_model

    from .predict import read_input

    models = [load_model(path) for path in args.models]
    check_ensemble(models, args.weights)
    classes = max(2, mask_output(models[0], models[0].output_shape)[-1])
    _class_scores(args, classes)  # the flags checked before any image is predicted

    def predict(path: Path):
        image, stack = read_input(path, models[0].input_shape[-1])
        mean, maps = predict_ensemble(models, image, weights=args.weights, members=True,
                                      tta=args.tta, verbose=False)
        pages = (lambda a: list(a)) if stack else (lambda a: [a])
        if classes <= 2:
            mean, maps = mean[..., -1], [m[..., -1] for m in maps]
        return pages(mean), [pages(m) for m in maps] if len(models) > 1 else None

    return predict, classes


def _member_means(args, pages, ensemble: dict) -> dict | None:
    """An ensemble's members scored as the ensemble is (means over the images), printed
    beside it; ``None`` for one model or a folder of maps."""
    if not pages or pages[0][3] is None:
        return None
    shown = ("iou", "dice", "v_rand", "v_info")
    means = {}
    for i, path in enumerate(args.models):
        rows = [_scores(members[i], label, args.target, args.threshold)
                for _, _, label, members in pages]
        means[str(path)] = {score: _mean([row[score] for row in rows]) for score in SCORES}
    print(_members_table(means, ensemble, shown))
    return means


def _member_class_scores(args, pages, classes: int, ensemble: dict) -> dict | None:
    """Each member's leaderboard scores (one confusion matrix over the set) beside the
    ensemble's; ``None`` for one model or a folder of maps."""
    if not pages or pages[0][3] is None:
        return None
    shown = ("miou", "mdice", "pixel_accuracy")
    reports = {}
    for i, path in enumerate(args.models):
        scores = _class_scores(args, classes)
        for name, _, label, members in pages:
            scores.add(label, members[i].argmax(axis=-1), f"the labels of {name}")
        report = scores.report()
        reports[str(path)] = {k: report[k] for k in shown}
    print(_members_table(reports, ensemble, shown))
    return reports


def _members_table(members: dict, ensemble: dict, shown: tuple) -> str:
    """The ensemble's scores beside each member's, the best member named."""
    lines = ["\n| model | " + " | ".join(shown) + " |", "| --- |" + " --- |" * len(shown)]
    for name, row in [*members.items(), ("ensemble", ensemble)]:
        lines.append(f"| {name} | " + " | ".join(_shown(row[s], s) for s in shown) + " |")
    head = shown[0]
    best = max((row[head], name) for name, row in members.items() if row[head] is not None)
    if ensemble[head] is not None:
        lines.append(f"\nensemble {head} {ensemble[head]:.4f} vs the best member's {best[0]:.4f} "
                     f"({best[1]}): {ensemble[head] - best[0]:+.4f}")
    return "\n".join(lines)


def _probabilities(page: np.ndarray, name: str) -> np.ndarray:
    """A stored map -> float probabilities: (H, W) of the foreground (16-bit PNG / 65535,
    float TIFF as is), or (H, W, K) of K > 2 classes (float TIFF)."""
    if page.ndim == 3 and page.shape[-1] <= 2:
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
    """A score for the tables: ``-`` where it is not defined."""
    if value is None:
        return "-"
    return f"{value:.{6 if score == 'warping_error' else 4}f}"
