"""Watershed post-processing on hand-made membrane maps."""

import numpy as np
import pytest
from scipy import ndimage

from zoo.evaluation import isbi_scores
from zoo.postprocess import watershed_boundaries


def _cells(boundary_map, min_px=5):
    """4-connected regions of ``map < 0.5`` (as the scores read them), crumbs of a few
    pixels where watershed lines cross left out."""
    regions, count = ndimage.label(boundary_map < 0.5)
    return int((np.bincount(regions.ravel())[1:] >= min_px).sum())


def _grid_labels(size=96, cell=24, membrane=2):
    """ISBI-style labels: 255 cells in a grid, 0 membranes ``membrane`` px wide."""
    labels = np.full((size, size), 255, np.uint8)
    for k in range(0, size, cell):
        labels[k:k + membrane, :] = 0
        labels[:, k:k + membrane] = 0
    return labels


def test_a_perfect_map_stays_perfect():
    labels = _grid_labels()
    perfect = (labels == 0).astype(np.float32)
    out = watershed_boundaries(perfect)
    assert out.shape == perfect.shape and out.dtype == np.float32
    assert isbi_scores(labels, out)["v_rand"] > 0.999
    assert _cells(out) == ndimage.label(labels > 0)[1]


@pytest.mark.parametrize("gap, sigma", [(4, 1.0), (6, 0.0)])
def test_a_gap_in_a_membrane_is_closed(gap, sigma):
    """A 2-px membrane's gap: up to 4 px with the default smoothing, 6 px without."""
    labels = np.full((64, 96), 255, np.uint8)
    labels[:, 47:49] = 0  # one membrane between two cells
    broken = (labels == 0).astype(np.float32)
    broken[28:28 + gap, 47:49] = 0.0
    assert isbi_scores(labels, broken)["v_rand"] < 0.8  # the cells merge
    closed = watershed_boundaries(broken, sigma=sigma)
    assert isbi_scores(labels, closed)["v_rand"] > 0.99
    assert _cells(closed) == 2


def test_small_regions_merge_and_stacks_keep_their_shape():
    labels = _grid_labels(size=192, cell=48)
    probs = (labels == 0).astype(np.float32)
    probs[64:77, 64] = probs[64:77, 76] = probs[64, 64:77] = probs[76, 64:77] = 1.0  # a speck
    assert _cells(probs) == ndimage.label(labels > 0)[1] + 1
    kept = watershed_boundaries(probs, min_seed=50)  # the map's own speck stays
    assert _cells(kept) == _cells(probs)
    out = watershed_boundaries(np.stack([probs, probs]), min_seed=50, keep_map=False)
    assert out.shape == (2, 192, 192)
    assert _cells(out[0]) == ndimage.label(labels > 0)[1]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        watershed_boundaries(np.full((8, 8), 200, np.uint8))
    with pytest.raises(ValueError, match="trailing channel of 1"):
        watershed_boundaries(np.zeros((8, 8, 2, 2)))
    with pytest.raises(ValueError, match="sigmoid"):
        watershed_boundaries(np.full((8, 8), 3.0))
    unsure = np.full((8, 8), 0.4)  # no confident interior: left as it is
    np.testing.assert_array_equal(watershed_boundaries(unsure), unsure.astype(np.float32))
