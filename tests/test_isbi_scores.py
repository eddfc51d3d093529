"""ISBI 2012 scores: V_rand, V_info, split/merge behaviour, thresholds."""

import numpy as np
import pytest
from conftest import ISBI2012, NO_ISBI2012

from zoo.evaluation import info_scores, isbi_scores, rand_scores, thin_borders


def two_cells():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:18, 2:9] = 255
    labels[2:18, 11:18] = 255
    return labels


def test_perfect_segmentation_scores_one():
    labels = two_cells()
    scores = isbi_scores(labels, (labels == 0).astype(float))
    assert scores["v_rand"] == pytest.approx(1.0)
    assert scores["v_info"] == pytest.approx(1.0)
    assert scores["rand_error"] == pytest.approx(0.0, abs=1e-12)
    assert scores["pixel_error"] == pytest.approx(0.0, abs=1e-12)
    assert scores["thresholds"] == pytest.approx([0.1 * k for k in range(1, 11)])


def test_merging_two_cells_lowers_the_merge_scores_only():
    truth = np.zeros((10, 10), int)
    truth[:, :4], truth[:, 6:] = 1, 2
    merged = np.where(truth > 0, 1, 0)
    rand, info = rand_scores(truth, merged), info_scores(truth, merged)
    assert rand["merge"] == pytest.approx(0.5) and rand["split"] == pytest.approx(1.0)
    assert info["merge"] < 1 and info["split"] == pytest.approx(1.0)


def test_splitting_a_cell_lowers_the_split_scores_only():
    truth = np.zeros((10, 10), int)
    truth[:, :4], truth[:, 6:] = 1, 2
    split = truth.copy()
    split[:5][split[:5] == 1] = 3
    rand, info = rand_scores(truth, split), info_scores(truth, split)
    assert rand["split"] < 1 and rand["merge"] == pytest.approx(1.0)
    assert info["split"] < 1 and info["merge"] == pytest.approx(1.0)


def test_a_gap_in_the_membrane_merges_cells_and_lowers_v_rand():
    labels = two_cells()
    probs = (labels == 0).astype(float)
    probs[9:11, 9:11] = 0.0  # open the membrane between the cells
    scores = isbi_scores(labels, probs)
    assert scores["v_rand"] < 0.8 and scores["v_info"] < 0.8


def test_isbi_scores_say_whether_a_gap_merges_or_a_false_membrane_splits():
    labels = two_cells()
    gap = (labels == 0).astype(float)
    gap[9:11, 9:11] = 0.0  # the membrane between the cells opened: a merge
    merged = isbi_scores(labels, gap)
    assert merged["rand_merge"] < 0.8 and merged["rand_split"] == pytest.approx(1.0)
    assert merged["info_merge"] < 0.8 and merged["info_split"] == pytest.approx(1.0)
    wall = (labels == 0).astype(float)
    wall[9, 2:9] = 1.0  # a membrane across the left cell: a split
    split = isbi_scores(labels, wall)
    assert split["rand_split"] < 0.9 and split["rand_merge"] == pytest.approx(1.0)
    assert split["info_split"] < 0.9 and split["info_merge"] == pytest.approx(1.0)
    perfect = isbi_scores(labels, (labels == 0).astype(float))
    assert all(perfect[k] == pytest.approx(1.0)
               for k in ("rand_split", "rand_merge", "info_split", "info_merge"))


def test_thinning_keeps_segments_apart_with_one_pixel_borders():
    segments = np.zeros((5, 9), int)
    segments[:, :3], segments[:, 6:] = 1, 2
    thinned = thin_borders(segments)
    assert (thinned == 0).sum() == 5  # one column of border
    assert set(np.unique(thinned)) == {0, 1, 2}


def test_stacks_channels_and_errors():
    labels = np.stack([two_cells()] * 2)
    probs = (labels == 0).astype(float)[..., None]
    assert isbi_scores(labels, probs)["v_rand"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        isbi_scores(labels, probs * 255)
    with pytest.raises(ValueError, match="same shape"):
        isbi_scores(labels, probs[:1])
    one = labels[0][..., None]  # (H, W, 1): one slice with a channel, not H slices
    assert isbi_scores(one, probs[0])["v_rand"] == pytest.approx(1.0)


@pytest.mark.skipif(not (ISBI2012 / "labels").is_dir(),
                    reason=NO_ISBI2012)
def test_real_isbi_slice_scores():
    from PIL import Image

    labels = np.array(Image.open(ISBI2012 / "labels" / "20.png"))
    perfect = (labels == 0).astype(float)
    assert isbi_scores(labels, perfect)["v_rand"] == pytest.approx(1.0)
    blurred = np.clip(perfect + np.random.default_rng(0).normal(0, 0.4, perfect.shape), 0, 1)
    scores = isbi_scores(labels, blurred)
    assert 0 < scores["v_rand"] < 1 and 0 < scores["pixel_error"] < 0.5
