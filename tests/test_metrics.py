"""Streaming metrics: micro vs per-image, empty masks, multi-class, serialisation."""

import keras
import numpy as np
import pytest

from zoo.metrics import Dice, IoU, PixelError


def _value(metric, *batches):
    metric.reset_state()
    for t, p in batches:
        metric.update_state(t, p)
    return float(keras.ops.convert_to_numpy(metric.result()))


def test_binary_micro_iou_and_dice():
    t = np.array([[1, 1, 0, 0]], "float32").reshape(1, 1, 4, 1)
    p = np.array([[0.9, 0.2, 0.7, 0.1]], "float32").reshape(1, 1, 4, 1)
    assert _value(IoU(), (t, p)) == pytest.approx(1 / 3)
    assert _value(Dice(), (t, p)) == pytest.approx(0.5)
    assert _value(PixelError(), (t, p)) == pytest.approx(0.5)


def test_micro_accumulates_counts_across_batches_per_image_averages_scores():
    t1 = np.ones((1, 2, 2, 1), "float32")
    p1 = np.ones((1, 2, 2, 1), "float32")                   # IoU 1
    t2 = np.zeros((1, 2, 2, 1), "float32")
    t2[0, 0, 0] = 1
    p2 = np.zeros((1, 2, 2, 1), "float32")
    p2[0, 1, 1] = 1                                         # IoU 0
    assert _value(IoU(), (t1, p1), (t2, p2)) == pytest.approx(4 / 6)
    assert _value(IoU(per_image=True), (t1, p1), (t2, p2)) == pytest.approx(0.5)


def test_empty_masks_score_empty_score():
    empty = np.zeros((2, 4, 4, 1), "float32")
    assert _value(IoU(), (empty, empty)) == 1.0
    assert _value(Dice(per_image=True), (empty, empty)) == 1.0
    assert _value(IoU(empty_score=0.0), (empty, empty)) == 0.0
    assert _value(IoU(), (empty, empty + 1)) == 0.0


def test_multiclass_per_class_and_mean():
    labels = np.array([[[0, 1], [2, 2]]])
    probs = np.eye(3, dtype="float32")[np.array([[[0, 2], [2, 2]]])]
    per_class = [_value(IoU(3, class_id=k), (labels, probs)) for k in range(3)]
    assert per_class == pytest.approx([1.0, 0.0, 2 / 3])
    assert _value(IoU(3), (labels, probs)) == pytest.approx(np.mean(per_class))
    onehot = np.eye(3, dtype="float32")[labels]
    assert _value(Dice(3), (onehot, probs)) == pytest.approx(np.mean([1.0, 0.0, 0.8]))
    assert _value(PixelError(3), (labels, probs)) == pytest.approx(0.25)


def test_from_logits_threshold():
    t = np.array([1, 0], "float32").reshape(1, 1, 2, 1)
    logits = np.array([0.1, -0.1], "float32").reshape(1, 1, 2, 1)
    assert _value(IoU(from_logits=True), (t, logits)) == 1.0


def test_bad_class_id():
    with pytest.raises(ValueError, match="class_id"):
        IoU(2, class_id=2)


def test_metrics_serialise_and_run_in_fit(tmp_path):
    import zoo

    model = zoo.unet((16, 16, 1), 1, depth=2, encoder_options={"filters": 2})
    model.compile("adam", "binary_crossentropy",
                  metrics=[IoU(), Dice(per_image=True), PixelError()])
    x = np.random.default_rng(0).random((4, 16, 16, 1), "float32")
    history = model.fit(x, (x > 0.5).astype("float32"), epochs=1, verbose=0)
    assert {"iou", "dice", "pixel_error"} <= set(history.history)
    model.save(tmp_path / "m.keras")
    keras.saving.load_model(tmp_path / "m.keras")
    config = IoU(3, per_image=True).get_config()
    assert IoU.from_config(config).per_image
