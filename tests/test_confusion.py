"""Multi-class scores as leaderboards compute them (zoo.confusion): one confusion matrix
over the set, classes absent from both truth and prediction left out of the mean."""

import keras
import numpy as np
import pytest

from zoo.confusion import ConfusionScores


def _independent_miou(truths, predictions, k, ignore=None):
    """mIoU by hand: pixel counts summed over the images, then IoU per class present."""
    inter, union = np.zeros(k), np.zeros(k)
    for t, p in zip(truths, predictions, strict=True):
        keep = np.ones(t.shape, bool) if ignore is None else t != ignore
        for c in range(k):
            inter[c] += np.sum((t == c) & (p == c) & keep)
            union[c] += np.sum(((t == c) | (p == c)) & keep)
    return float(np.mean(inter[union > 0] / union[union > 0]))


def test_absent_classes_follow_the_stated_rule():
    # class 2: predicted, never in the truth -> 0; class 3: in the truth, never
    # predicted -> 0; class 4: in neither -> no IoU, left out of the mean
    truth = np.array([[0, 0, 1, 1], [3, 3, 0, 0]])
    predicted = np.array([[0, 2, 1, 1], [0, 0, 0, 0]])
    scores = ConfusionScores(5)
    scores.add(truth, predicted)
    report = scores.report()
    ious = [c["iou"] for c in report["classes"]]
    assert ious == [pytest.approx(3 / 6), 1.0, 0.0, 0.0, None]
    assert report["absent"] == ["4"]
    assert report["miou"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert report["fg_miou"] == pytest.approx((1 + 0 + 0) / 3)
    assert report["miou"] == pytest.approx(_independent_miou([truth], [predicted], 5))
    dice = report["classes"][0]["dice"]
    assert dice == pytest.approx(2 * 3 / (4 + 5))
    assert report["classes"][3]["truth_pixels"] == 2
    assert report["classes"][2]["predicted_pixels"] == 1
    assert report["pixel_accuracy"] == pytest.approx(5 / 8)


def test_the_set_is_one_matrix_not_a_mean_of_images():
    # image 1 holds class 1 only, image 2 class 2 only; each is half right
    truths = [np.array([[1, 1, 1, 1]]), np.array([[2, 2, 2, 2]])]
    predictions = [np.array([[1, 1, 0, 0]]), np.array([[2, 2, 2, 2]])]
    scores = ConfusionScores(3)
    image = [scores.add(t, p) for t, p in zip(truths, predictions, strict=True)]
    report = scores.report()
    assert image == [pytest.approx((0 + 0.5) / 2), 1.0]  # background counts in image 1
    assert report["image_miou"] == pytest.approx((0.25 + 1) / 2)
    assert report["miou"] == pytest.approx((0 + 0.5 + 1) / 3)
    assert report["miou"] == pytest.approx(_independent_miou(truths, predictions, 3))
    assert report["confusion"] == [[0, 0, 0], [2, 2, 0], [0, 0, 4]]


@pytest.mark.parametrize("ignore", [None, 255])
def test_agrees_with_keras_mean_iou_over_the_set(ignore):
    rng = np.random.default_rng(0)
    truths = [rng.integers(0, 4, (16, 16)) for _ in range(3)]
    predictions = [np.where(rng.random((16, 16)) < 0.7, t, rng.integers(0, 4, (16, 16)))
                   for t in truths]
    if ignore is not None:
        truths[0][:4] = ignore
    scores, reference = ConfusionScores(4, ignore_index=ignore), keras.metrics.MeanIoU(
        4, ignore_class=ignore)
    for t, p in zip(truths, predictions, strict=True):
        scores.add(t, p)
        reference.update_state(t, p)
    report = scores.report()
    assert report["miou"] == pytest.approx(float(reference.result()), abs=1e-6)
    assert report["miou"] == pytest.approx(_independent_miou(truths, predictions, 4, ignore))
    assert sum(map(sum, report["confusion"])) == 3 * 256 - (64 if ignore else 0)


@pytest.mark.parametrize("call, match", [
    (lambda: ConfusionScores(3).add(np.zeros((4, 4), int), np.zeros((4, 5), int)),
     "same shape"),
    (lambda: ConfusionScores(3).add(np.full((2, 2), 3), np.zeros((2, 2), int)),
     "class ids 0..2"),
    (lambda: ConfusionScores(3).add(np.zeros((2, 2), int), np.full((2, 2), 5)),
     "predicted class ids"),
    (lambda: ConfusionScores(3).add(np.full((2, 2), 0.5), np.zeros((2, 2), int)),
     "integer class ids"),
    (lambda: ConfusionScores(3, ignore_index=1), "ignore_index 1 is one of the classes"),
    (lambda: ConfusionScores(3, names=["a", "b"]), "2 names for 3 classes"),
    (lambda: ConfusionScores(1), "at least 2"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
