"""Under mixed_float16 every loss and metric is finite on 512x512 empty, full and random masks."""

import keras
import numpy as np
import pytest

import zoo
from zoo import losses as L
from zoo import metrics as M

LOSSES = {
    "weighted_ce": L.WeightedCrossEntropy, "focal": L.FocalLoss, "dice": L.DiceLoss,
    "iou": L.IoULoss, "tversky": L.TverskyLoss, "ms_ssim": L.MSSSIMLoss, "hybrid": L.HybridLoss,
}
RNG = np.random.default_rng(0)
MASKS = {
    "empty": np.zeros((1, 512, 512, 1), "float32"),
    "full": np.ones((1, 512, 512, 1), "float32"),
    "random": (RNG.random((1, 512, 512, 1)) > 0.5).astype("float32"),
}


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
def test_finite_loss_and_gradients_under_mixed_float16(loss):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = zoo.unet((512, 512, 1), 1, depth=2, encoder_options={"filters": 2}, dropout=0.0)
    model.compile(keras.optimizers.SGD(1e-3), LOSSES[loss](), metrics=[M.IoU(), M.Dice()])
    image = RNG.random((1, 512, 512, 1)).astype("float32")
    for mask in MASKS.values():  # one compiled step, three masks
        logs = model.train_on_batch(image, mask, return_dict=True)
        assert all(np.isfinite(v) for v in logs.values()), logs
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)


@pytest.mark.parametrize("loss", LOSSES)
def test_float16_predictions_are_reduced_in_float32(loss):
    # A sum of p * t over 512x512 pixels overflows float16 (max 65504).
    t = MASKS["full"]
    p = keras.ops.cast(np.full(t.shape, 0.999, "float32"), "float16")
    value = keras.ops.convert_to_numpy(LOSSES[loss]()(t, p))
    assert value.dtype == np.float32 and np.isfinite(value)


@pytest.mark.parametrize("metric", [M.IoU, M.Dice, M.PixelError])
@pytest.mark.parametrize("mask", MASKS)
def test_metrics_in_float16(metric, mask):
    m = metric()
    m.update_state(MASKS[mask], keras.ops.cast(MASKS[mask], "float16"))
    assert np.isfinite(float(keras.ops.convert_to_numpy(m.result())))
