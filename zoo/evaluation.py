"""Scores computed with numpy/scipy outside the graph (whole data sets, any backend).

The ISBI 2012 scores follow the challenge's final definition (Arganda-Carreras
et al., Front. Neuroanat. 2015; Fiji's Trainable_Segmentation ``RandError`` /
``VariationOfInformation``): foreground-restricted Rand and information
theoretic F-scores after border thinning, best over binarisation thresholds.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import checks

THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(1, 11))
FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


def _binary(y_true, y_pred, threshold: float):
    truth = checks.binary_mask(y_true, "y_true")
    probs = checks.probabilities(y_pred, "y_pred")
    checks.probability(threshold, "threshold")
    if probs.shape == (*truth.shape, 1):
        probs = probs[..., 0]
    elif truth.shape == (*probs.shape, 1):
        truth = truth[..., 0]
    if probs.shape != truth.shape:
        raise ValueError(f"y_true {truth.shape} and y_pred {probs.shape} must have the same "
                         "shape (a trailing channel of 1 is accepted)")
    return truth, probs > threshold


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


def class_scores(y_true, probs) -> dict:
    """Multi-class scores of a set: ``y_true`` (N, H, W) or (H, W) class ids against the
    argmax of ``probs`` (..., K), one confusion matrix over the set
    (:class:`zoo.confusion.ConfusionScores`): ``miou`` over all classes present,
    ``iou`` and ``dice`` the means over the foreground classes 1..K-1 present (1.0 when
    none is)."""
    from .confusion import ConfusionScores

    y_true = np.asarray(y_true)
    probs = np.asarray(probs)
    predicted = np.argmax(probs, axis=-1).reshape(y_true.shape)
    scores = ConfusionScores(probs.shape[-1])
    for truth, guess in zip(*(a.reshape(-1, *a.shape[-2:]) for a in (y_true, predicted)),
                            strict=True):
        scores.add(truth, guess)
    report = scores.report()
    return {"iou": 1.0 if report["fg_miou"] is None else report["fg_miou"],
            "dice": 1.0 if report["fg_mdice"] is None else report["fg_mdice"],
            "miou": report["miou"]}


def label_cells(cells: np.ndarray) -> np.ndarray:
    """4-connected components of a boolean cell mask (0 = boundary)."""
    return ndimage.label(cells, structure=FOUR_CONNECTED)[0]


def thin_borders(segments: np.ndarray) -> np.ndarray:
    """Thin the boundary (label 0) between segments to 1 px.

    Every boundary pixel joins its nearest segment; then the boundary pixels
    whose right or lower neighbour now belongs to another segment become
    boundary again: a 1-px line wherever two segments meet.
    """
    boundary = segments == 0
    if not boundary.any() or boundary.all():
        return segments
    nearest = ndimage.distance_transform_edt(boundary, return_distances=False,
                                             return_indices=True)
    filled = segments[tuple(nearest)]
    edge = np.zeros_like(boundary)
    edge[:-1] |= filled[:-1] != filled[1:]
    edge[:, :-1] |= filled[:, :-1] != filled[:, 1:]
    return np.where(edge & boundary, 0, filled)


def _joint_fractions(truth: np.ndarray, proposal: np.ndarray):
    """Contingency fractions over the ground truth's foreground (truth > 0).

    Proposal boundary pixels (0) inside the foreground count as singletons.
    Returns (p_ij, s_i over proposal segments, t_j over truth segments).
    """
    if np.shape(truth) != np.shape(proposal):
        raise ValueError(f"truth {np.shape(truth)} and proposal {np.shape(proposal)} must have "
                         "the same shape")
    mask = truth > 0
    t = truth[mask].astype(np.int64)
    s = proposal[mask].astype(np.int64)
    if t.size == 0:
        raise ValueError("the ground truth has no foreground (cell) pixels to score")
    singletons = s == 0
    s[singletons] = s.max() + 1 + np.arange(singletons.sum())
    n = t.size
    _, pair_counts = np.unique(t * (s.max() + 1) + s, return_counts=True)
    _, s_counts = np.unique(s, return_counts=True)
    _, t_counts = np.unique(t, return_counts=True)
    return pair_counts / n, s_counts / n, t_counts / n


def rand_scores(truth: np.ndarray, proposal: np.ndarray) -> dict:
    """Foreground-restricted Rand split, merge and V_rand (their F-score).

    ``split = sum p_ij^2 / sum t_j^2`` drops when the proposal splits a true
    cell; ``merge = sum p_ij^2 / sum s_i^2`` drops when it merges cells;
    ``V_rand = sum p_ij^2 / (0.5 sum s_i^2 + 0.5 sum t_j^2)``.
    """
    return _rand_terms(*_joint_fractions(truth, proposal))


def _rand_terms(p, s, t) -> dict:
    pp, ss, tt = (p**2).sum(), (s**2).sum(), (t**2).sum()
    return {"split": pp / tt, "merge": pp / ss, "v_rand": pp / (0.5 * ss + 0.5 * tt)}


def _entropy(fractions: np.ndarray) -> float:
    return float(-(fractions * np.log(fractions)).sum())


def info_scores(truth: np.ndarray, proposal: np.ndarray) -> dict:
    """Foreground-restricted information-theoretic split, merge and V_info.

    With mutual information I(S; T): ``split = I / H(S)``, ``merge = I / H(T)``,
    ``V_info = I / (0.5 H(S) + 0.5 H(T))``; 1.0 where both entropies are 0.
    """
    return _info_terms(*_joint_fractions(truth, proposal))


def _info_terms(p, s, t) -> dict:
    h_s, h_t = _entropy(s), _entropy(t)
    mutual = h_s + h_t - _entropy(p)
    def ratio(entropy):
        return 1.0 if entropy == 0 else mutual / entropy

    return {"split": ratio(h_s), "merge": ratio(h_t), "v_info": ratio(0.5 * h_s + 0.5 * h_t)}


def _pixel_fscore(truth_cells: np.ndarray, proposal_cells: np.ndarray) -> float:
    tp = np.logical_and(truth_cells, proposal_cells).sum()
    total = truth_cells.sum() + proposal_cells.sum()
    return 1.0 if total == 0 else 2 * tp / total


# The 8 neighbours of a pixel, clockwise from the upper left: bit k of a neighbourhood code.
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _simple_point_table() -> np.ndarray:
    """(256,) bool: is a pixel with this neighbourhood code a simple point?

    Cells are 4-connected and the boundary 8-connected, as ``label_cells`` counts them. A
    pixel is simple (flipping it changes no topology) when exactly one 4-component of its
    cell neighbours touches it by an edge and its boundary neighbours form exactly one
    8-component (Kong & Rosenfeld 1989, topological numbers T4 and T8).
    """
    table = np.zeros(256, dtype=bool)
    edges = np.zeros((3, 3), dtype=bool)
    edges[[0, 1, 1, 2], [1, 0, 2, 1]] = True
    for code in range(256):
        cells = np.zeros((3, 3), dtype=bool)
        for bit, (dy, dx) in enumerate(NEIGHBOURS):
            cells[1 + dy, 1 + dx] = bool(code >> bit & 1)
        cell_parts, _ = ndimage.label(cells, structure=FOUR_CONNECTED)
        touching = len(set(cell_parts[edges].tolist()) - {0})
        boundary = ~cells
        boundary[1, 1] = False
        boundary_parts = ndimage.label(boundary, structure=np.ones((3, 3)))[1]
        table[code] = touching == 1 and boundary_parts == 1
    return table


SIMPLE_POINT = _simple_point_table()


def _neighbourhood_codes(cells: np.ndarray) -> np.ndarray:
    padded = np.pad(cells, 1)
    height, width = cells.shape
    codes = np.zeros(cells.shape, dtype=np.int64)
    for bit, (dy, dx) in enumerate(NEIGHBOURS):
        codes |= padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width].astype(np.int64) << bit
    return codes


def warp_toward(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` (bool cell mask) with every simple point that differs from ``target`` flipped.

    Flips go in sweeps over the four 2x2 sub-lattices (pixels of one sub-lattice never
    neighbour each other, so flipping them together equals flipping them one by one) until
    no simple point differs. What is left differing is topological: splits, merges, holes,
    objects that appear or vanish (Jain et al., CVPR 2010).
    """
    warped = np.array(source, dtype=bool)
    target = np.asarray(target, dtype=bool)
    rows, cols = np.indices(warped.shape)
    lattices = [(rows % 2 == oy) & (cols % 2 == ox) for oy in (0, 1) for ox in (0, 1)]
    changed = True
    while changed:
        changed = False
        for lattice in lattices:
            flip = lattice & (warped != target)
            if not flip.any():
                continue
            flip &= SIMPLE_POINT[_neighbourhood_codes(warped)]
            if flip.any():
                warped[flip] = target[flip]
                changed = True
    return warped


def warping_error(labels, membrane_probs, threshold: float = 0.5) -> float:
    """The warping error of ISBI 2012 (Jain et al., CVPR 2010), averaged over slices.

    Args:
        labels: (H, W) or (N, H, W) label images, > 0 = cell, 0 = membrane (a trailing
            channel of 1 is accepted).
        membrane_probs: the same shape, membrane probability in [0, 1].
        threshold: the proposal's cells are the pixels with probability < threshold.

    The labels' cells are warped toward the proposal's by flipping only simple points
    (``warp_toward``); the error is the fraction of pixels that still differ, so a boundary
    that is only shifted costs nothing and each split, merge, hole or vanished cell costs
    the pixels that topology keeps apart. The U-Net paper reports 0.000353 on the challenge's
    test slices (Ronneberger et al. 2015, Table 1).
    """
    labels = checks.label_image(checks.drop_channel(labels, "labels"), "labels")
    probs = checks.probabilities(checks.drop_channel(membrane_probs, "membrane_probs"),
                                 "membrane_probs (membrane = 1)")
    checks.probability(threshold, "threshold")
    if labels.shape != probs.shape:
        raise ValueError(f"labels {labels.shape} and membrane_probs {probs.shape} must have "
                         "the same shape")
    if labels.ndim == 2:
        labels, probs = labels[None], probs[None]
    return _warping_error(labels > 0, probs < threshold)


def _warping_error(truth_cells, proposal_cells) -> float:
    """The mean over slices of the pixels that still differ after warping, (N, H, W) bool."""
    return float(np.mean([np.mean(warp_toward(truth, proposal) != proposal)
                          for truth, proposal in zip(truth_cells, proposal_cells,
                                                     strict=True)]))


def isbi_scores(labels, membrane_probs, thresholds=THRESHOLDS) -> dict:
    """ISBI 2012 scores of membrane probability maps against ISBI label images.

    Args:
        labels: (H, W) or (N, H, W) label images, 255 (or any value > 0) =
            cell interior, 0 = membrane (a trailing channel of 1 is accepted).
        membrane_probs: the same shape, membrane probability in [0, 1], finite
            (a trailing channel of 1 is accepted).
        thresholds: binarisation thresholds; at threshold t the proposal's
            cells are the pixels with probability < t.

    For each threshold and slice: true cells are the 4-connected components
    of the labels; proposed cells the 4-connected components of the
    thresholded map, whose borders are thinned to 1 px; scores are computed
    over the truth's cell pixels only. Scores are averaged over slices, then
    the best threshold is taken per score.

    Returns: ``v_rand``, ``v_info`` (after thinning), ``rand_error`` (1 - best
    foreground-restricted Rand F-score without thinning), ``pixel_error``
    (1 - best pixel F-score of the cell class), ``warping_error`` (``warping_error``
    at V_rand's best threshold), the per-threshold curves and
    the best thresholds; ``rand_split`` / ``rand_merge`` at V_rand's best
    threshold and ``info_split`` / ``info_merge`` at V_info's (averaged over
    slices like the scores): which error costs the score, a true cell cut in
    pieces (split < 1) or true cells joined (merge < 1).
    """
    labels = checks.label_image(checks.drop_channel(labels, "labels"), "labels")
    probs = checks.probabilities(checks.drop_channel(membrane_probs, "membrane_probs"),
                                 "membrane_probs (membrane = 1)").astype(np.float64)
    if labels.shape != probs.shape:
        raise ValueError(f"labels {labels.shape} and membrane_probs {probs.shape} must have "
                         "the same shape")
    if labels.ndim == 2:
        labels, probs = labels[None], probs[None]
    truths = [label_cells(label > 0) for label in labels]
    curves = {"v_rand": [], "v_info": [], "rand_fscore": [], "pixel_fscore": [],
              "rand_split": [], "rand_merge": [], "info_split": [], "info_merge": []}
    for threshold in thresholds:
        per_slice = []
        for truth, prob in zip(truths, probs, strict=True):
            cells = prob < threshold
            proposal = label_cells(cells)
            thinned = thin_borders(proposal)
            fractions = _joint_fractions(truth, thinned)  # one contingency table for both
            rand, info = _rand_terms(*fractions), _info_terms(*fractions)
            per_slice.append((rand["v_rand"], info["v_info"],
                              rand_scores(truth, proposal)["v_rand"],
                              _pixel_fscore(truth > 0, cells),
                              rand["split"], rand["merge"], info["split"], info["merge"]))
        for key, value in zip(curves, np.mean(per_slice, axis=0), strict=True):
            curves[key].append(float(value))
    best = {key: int(np.argmax(curves[key]))
            for key in ("v_rand", "v_info", "rand_fscore", "pixel_fscore")}
    warping = _warping_error(labels > 0, probs < thresholds[best["v_rand"]])
    return {
        "v_rand": curves["v_rand"][best["v_rand"]],
        "v_info": curves["v_info"][best["v_info"]],
        **{f"rand_{term}": curves[f"rand_{term}"][best["v_rand"]] for term in ("split", "merge")},
        **{f"info_{term}": curves[f"info_{term}"][best["v_info"]] for term in ("split", "merge")},
        "rand_error": 1 - curves["rand_fscore"][best["rand_fscore"]],
        "pixel_error": 1 - curves["pixel_fscore"][best["pixel_fscore"]],
        "warping_error": warping,
        "best_threshold_v_rand": thresholds[best["v_rand"]],
        "best_threshold_v_info": thresholds[best["v_info"]],
        "thresholds": list(thresholds),
        "curves": curves,
    }
