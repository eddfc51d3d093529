import numpy as np
import pytest

from zoo.evaluation import dice_score, iou_score


def test_iou_and_dice_on_known_masks():
    t = np.array([[1, 1, 0, 0]])
    p = np.array([[0.9, 0.2, 0.7, 0.1]])
    assert iou_score(t, p) == pytest.approx(1 / 3)
    assert dice_score(t, p) == pytest.approx(0.5)


def test_empty_masks_score_one_and_channel_axis_is_accepted():
    t = np.zeros((2, 4, 4))
    assert iou_score(t, np.zeros((2, 4, 4, 1))) == 1.0
    assert dice_score(t, np.zeros((2, 4, 4))) == 1.0


def test_non_binary_truth_is_rejected():
    with pytest.raises(ValueError, match="only 0 and 1"):
        iou_score(np.array([0, 255]), np.array([0.1, 0.9]))


def test_class_scores_average_the_foreground_classes():
    from zoo.evaluation import class_scores

    truth = np.array([[0, 1, 1], [2, 2, 0]])
    probs = np.eye(3)[np.array([[0, 1, 2], [2, 2, 0]])]  # one pixel of class 1 read as 2
    scores = class_scores(truth, probs)
    assert scores["iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert scores["dice"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert scores["miou"] == pytest.approx((1 + 1 / 2 + 2 / 3) / 3)  # background included
    assert class_scores(np.zeros((2, 2), int), np.eye(3)[np.zeros((2, 2), int)])["iou"] == 1.0
    with pytest.raises(ValueError, match="class ids 0..2"):
        class_scores(truth + 1, probs)
