"""Scores computed with numpy outside the graph (whole data sets, any backend)."""

from __future__ import annotations

import numpy as np


def _binary(y_true, y_pred, threshold: float):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        y_pred = np.reshape(y_pred, y_true.shape)
    if not np.isin(np.unique(y_true), (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1 (binary masks)")
    return y_true.astype(bool), y_pred > threshold


def iou_score(y_true, y_pred, threshold: float = 0.5) -> float:
    """Micro-averaged IoU |T & P| / |T | P| over all pixels; 1.0 when both are empty.

    ``y_true``: binary mask(s); ``y_pred``: probabilities of the same size
    (a trailing channel of 1 is accepted).
    """
    t, p = _binary(y_true, y_pred, threshold)
    union = np.logical_or(t, p).sum()
    return 1.0 if union == 0 else float(np.logical_and(t, p).sum() / union)


def dice_score(y_true, y_pred, threshold: float = 0.5) -> float:
    """Micro-averaged Dice 2|T & P| / (|T| + |P|); 1.0 when both are empty."""
    t, p = _binary(y_true, y_pred, threshold)
    total = t.sum() + p.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(t, p).sum() / total)
