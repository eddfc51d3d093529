"""The warping error (Jain et al., CVPR 2010): topology costs pixels, boundary shifts cost none."""

import numpy as np
import pytest

from zoo.evaluation import SIMPLE_POINT, isbi_scores, warp_toward, warping_error


def cells(*boxes, shape=(24, 24)):
    """ISBI-style labels: 255 inside each (r0, r1, c0, c1) box, 0 (membrane) elsewhere."""
    labels = np.zeros(shape, np.uint8)
    for r0, r1, c0, c1 in boxes:
        labels[r0:r1, c0:c1] = 255
    return labels


def membranes(labels):
    return (labels == 0).astype(float)


def test_a_pure_boundary_shift_costs_nothing():
    truth = cells((3, 20, 3, 10), (3, 20, 12, 21))
    shifted = cells((5, 21, 2, 12), (5, 21, 14, 22))
    assert warping_error(truth, membranes(shifted)) == 0.0
    assert warping_error(truth, membranes(truth)) == 0.0


def test_a_split_cell_costs_the_pixel_that_keeps_it_whole():
    truth = cells((3, 20, 3, 20))
    split = truth.copy()
    split[3:20, 11] = 0  # a membrane line cuts the one cell in two
    assert warping_error(truth, membranes(split)) * truth.size == 1


def test_merged_cells_cost_the_membrane_that_keeps_them_apart():
    truth = cells((3, 20, 3, 10), (3, 20, 11, 20))
    merged = cells((3, 20, 3, 20))
    # Removing any pixel of the 1-px, 17-px membrane joins the cells: none is simple.
    assert warping_error(truth, membranes(merged)) * truth.size == 17


def test_a_hole_and_a_vanished_cell_are_counted():
    truth = cells((3, 20, 3, 20))
    holed = truth.copy()
    holed[10, 10] = 0
    assert warping_error(truth, membranes(holed)) * truth.size == 1
    small = cells((3, 20, 3, 12), (3, 6, 15, 18))
    assert warping_error(small, membranes(cells((3, 20, 3, 12)))) * small.size == 1


def test_warping_only_flips_simple_points():
    rng = np.random.default_rng(0)
    truth = rng.random((32, 32)) > 0.5
    target = rng.random((32, 32)) > 0.5
    warped = warp_toward(truth, target)
    assert (warped != target).sum() <= (truth != target).sum()
    # Every pixel still differing is not simple in the warped mask: nothing left to flip.
    padded = np.pad(warped, 1)
    for r, c in zip(*np.nonzero(warped != target), strict=True):
        window = padded[r:r + 3, c:c + 3]
        code = sum(int(window[1 + dy, 1 + dx]) << bit for bit, (dy, dx) in enumerate(
            ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))))
        assert not SIMPLE_POINT[code]


def test_isbi_scores_report_it_and_bad_input_is_refused():
    truth = cells((3, 20, 3, 10), (3, 20, 11, 20))
    scores = isbi_scores(np.stack([truth, truth]), np.stack([membranes(truth)] * 2))
    assert scores["warping_error"] == 0.0
    with pytest.raises(ValueError, match="same shape"):
        warping_error(truth, membranes(truth)[:10])
    with pytest.raises(ValueError, match="membrane_probs"):
        warping_error(truth, membranes(truth) * 2)
