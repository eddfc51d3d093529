"""Numerics sweep: every loss and metric x {float32, float16, bfloat16} predictions x
{empty, full, random, single-pixel} 512x512 masks gives finite values, and every loss
finite gradients with respect to the logits (also where the sigmoid saturates)."""

import keras
import numpy as np
import pytest

from zoo import losses as L
from zoo import metrics as M

LOSSES = {
    "weighted_ce": L.WeightedCrossEntropy, "focal": L.FocalLoss, "dice": L.DiceLoss,
    "iou": L.IoULoss, "tversky": L.TverskyLoss, "cldice": L.ClDiceLoss,
    "ms_ssim": L.MSSSIMLoss, "hybrid": L.HybridLoss,
}
METRICS = {"iou": M.IoU, "dice": M.Dice, "pixel_error": M.PixelError}
DTYPES = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
RNG = np.random.default_rng(0)
SIZE = 512


def _masks():
    single = np.zeros((1, SIZE, SIZE, 1), "float32")
    single[0, SIZE // 2, SIZE // 3] = 1
    return {"empty": np.zeros_like(single), "full": np.ones_like(single),
            "random": (RNG.random(single.shape) > 0.5).astype("float32"),
            "single_pixel": single}


MASKS = _masks()
# Logits from -20 to 20: in float16 the sigmoid is exactly 0 or 1 at the ends.
LOGITS = (RNG.standard_normal((1, SIZE, SIZE, 1)) * 8).clip(-20, 20).astype("float32")


def value_and_gradient(function, x):
    """function(x) and d function / dx, with the backend's own autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        value, grad = jax.value_and_grad(lambda z: function(z).sum())(x)
        return np.asarray(value), np.asarray(grad)
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(function(x))
        return value.numpy(), tape.gradient(value, x).numpy()
    import torch

    x = torch.tensor(x, requires_grad=True)
    value = function(x).sum()
    value.backward()
    return value.detach().numpy(), x.grad.numpy()


SLOW = {"ms_ssim", "hybrid"}  # 5 scales of 11x11 filters at 512x512: ~5 s per mask


@pytest.mark.parametrize("policy", DTYPES)
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in LOSSES])
def test_loss_values_and_gradients_are_finite(name, policy):
    keras.mixed_precision.set_global_policy(policy)
    loss = LOSSES[name]()
    for mask_name, mask in MASKS.items():
        def of_logits(z, mask=mask):
            probs = keras.ops.cast(keras.ops.sigmoid(z), DTYPES[policy])
            return loss(mask, probs)

        value, grad = value_and_gradient(of_logits, LOGITS)
        assert np.isfinite(value), (mask_name, value)
        assert np.isfinite(grad).all(), (mask_name, int((~np.isfinite(grad)).sum()))


@pytest.mark.parametrize("policy", DTYPES)
@pytest.mark.parametrize("name", METRICS)
def test_metric_values_are_finite(name, policy):
    keras.mixed_precision.set_global_policy(policy)
    probs = keras.ops.cast(keras.ops.sigmoid(LOGITS), DTYPES[policy])
    for mask_name, mask in MASKS.items():
        for prediction in (probs, keras.ops.cast(mask, DTYPES[policy])):
            metric = METRICS[name]()
            metric.update_state(mask, prediction)
            result = float(keras.ops.convert_to_numpy(metric.result()))
            assert np.isfinite(result) and 0 <= result <= 1, (mask_name, result)


def test_smooth_zero_is_rejected_by_every_region_loss():
    for loss in (L.DiceLoss, L.IoULoss, L.TverskyLoss, L.ClDiceLoss):
        with pytest.raises(ValueError, match="smooth"):
            loss(smooth=0)
