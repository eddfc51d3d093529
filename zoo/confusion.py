"""Multi-class scores as segmentation leaderboards compute them: one confusion matrix
summed over every image of a set, then each class's IoU and Dice, then their mean over
the classes (mIoU), background included.

    scores = ConfusionScores(num_classes=11)
    for truth, probs in pairs:                  # (H, W) class ids, (H, W, 11)
        scores.add(truth, probs.argmax(-1))     # returns this image's own mIoU
    scores.report()   # {"miou", "mdice", "classes": [...], "absent": [...], ...}

Absent classes: a class that is neither in the truth nor predicted anywhere in the set
has no IoU and is left out of the means (``keras.metrics.MeanIoU``'s rule, and
mmsegmentation's); a class predicted but not in the truth, or in the truth but never
predicted, scores 0. Pixels labelled ``ignore_index`` count nowhere. The mean of
per-image (or per-batch) mIoUs is another number (``image_miou``, reported beside it):
on a set where most images hold few of the classes it can differ by 0.1 or more.

Each image's confusion matrix is ``keras.metrics.MeanIoU``'s (exact counts for images
below 2**24 pixels); they are summed in int64, so a set of any size counts exactly.
"""

from __future__ import annotations

import numpy as np

from . import checks


class ConfusionScores:
    """Accumulates ``num_classes`` x ``num_classes`` pixel counts (rows: truth, columns:
    prediction) over images; ``names`` label the classes in reports (default ``0..K-1``)."""

    def __init__(self, num_classes: int, *, ignore_index: int | None = None,
                 names: list[str] | None = None):
        import keras

        checks.positive_int(num_classes, "num_classes")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2 (background and one class), "
                             f"got {num_classes}")
        if names is not None and len(names) != num_classes:
            raise ValueError(f"names holds {len(names)} names for {num_classes} classes")
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index {ignore_index} is one of the classes 0.."
                             f"{num_classes - 1}; choose a value outside them (e.g. 255)")
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.names = [str(n) for n in names] if names else [str(c) for c in range(num_classes)]
        self.confusion = np.zeros((num_classes, num_classes), np.int64)
        self.image_mious: list[float] = []
        self._image = keras.metrics.MeanIoU(num_classes, ignore_class=ignore_index)

    def add(self, truth, predicted, name: str = "truth") -> float | None:
        """Count one image: ``truth`` and ``predicted``, class ids of the same shape
        (``name``: the truth's, in errors). Returns the image's own mIoU (``None`` if it
        holds only ignored pixels)."""
        truth, predicted = np.asarray(truth), np.asarray(predicted)
        if truth.shape != predicted.shape:
            raise ValueError(f"{name} {truth.shape} and predicted class ids "
                             f"{predicted.shape} must have the same shape")
        counted = truth if self.ignore_index is None else truth[truth != self.ignore_index]
        checks.class_map(counted, self.num_classes, name + (
            "" if self.ignore_index is None else f" (ignore_index {self.ignore_index} aside)"))
        checks.class_map(predicted, self.num_classes, "predicted class ids")
        self._image.reset_state()
        self._image.update_state(truth.astype(np.int32), predicted.astype(np.int32))
        counts = np.rint(np.asarray(self._image.total_cm)).astype(np.int64)
        self.confusion += counts
        miou = _mean(class_iou(counts))
        if miou is not None:
            self.image_mious.append(miou)
        return miou

    def report(self) -> dict:
        """The set's scores: ``miou`` and ``mdice`` over the classes present (in truth or
        prediction), ``fg_miou`` over those of classes 1..K-1, ``image_miou`` (the mean of
        the images' own), per class ``iou``, ``dice``, ``truth_pixels``,
        ``predicted_pixels`` (``None`` scores for ``absent`` classes), and the confusion
        matrix as counts."""
        ious, dices = class_iou(self.confusion), class_dice(self.confusion)
        classes = [{"class": c, "name": self.names[c], "iou": ious[c], "dice": dices[c],
                    "truth_pixels": int(self.confusion[c].sum()),
                    "predicted_pixels": int(self.confusion[:, c].sum())}
                   for c in range(self.num_classes)]
        return {"miou": _mean(ious), "mdice": _mean(dices), "fg_miou": _mean(ious[1:]),
                "fg_mdice": _mean(dices[1:]),
                "image_miou": float(np.mean(self.image_mious)) if self.image_mious else None,
                "pixel_accuracy": _ratio(np.trace(self.confusion), self.confusion.sum()),
                "classes": classes,
                "absent": [self.names[c] for c in range(self.num_classes) if ious[c] is None],
                "ignore_index": self.ignore_index, "images": len(self.image_mious),
                "confusion": self.confusion.tolist()}


def row_fractions(confusion) -> np.ndarray:
    """Each row of a confusion matrix as fractions of its truth class's pixels (rows
    with no pixel stay 0)."""
    counts = np.asarray(confusion, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def class_iou(confusion: np.ndarray) -> list[float | None]:
    """Each class's |T & P| / |T | P| from a confusion matrix; ``None`` where the class
    is in neither."""
    both = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - both
    return [_ratio(b, u) for b, u in zip(both, union, strict=True)]


def class_dice(confusion: np.ndarray) -> list[float | None]:
    """Each class's 2|T & P| / (|T| + |P|); ``None`` where the class is in neither."""
    both = np.diag(confusion)
    total = confusion.sum(0) + confusion.sum(1)
    return [_ratio(2 * b, t) for b, t in zip(both, total, strict=True)]


def _ratio(part, whole) -> float | None:
    return float(part / whole) if whole else None


def _mean(values) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None
