"""Losses against numpy references, arithmetic, serialisation, and training."""

import keras
import numpy as np
import pytest

import zoo
from zoo import losses as L
from zoo.data import synthetic_cells

RNG = np.random.default_rng(0)
EPS = 1e-7


def _np(x):
    return keras.ops.convert_to_numpy(x)


def binary_case(shape=(2, 8, 8)):
    t = (RNG.random(shape) > 0.5).astype("float32")[..., None]
    p = RNG.uniform(0.02, 0.98, shape).astype("float32")[..., None]
    return t, p


def categorical_case(shape=(2, 8, 8), classes=3):
    labels = RNG.integers(0, classes, shape)
    p = RNG.random((*shape, classes)).astype("float32")
    p /= p.sum(-1, keepdims=True)
    return labels, np.eye(classes, dtype="float32")[labels], p


def test_weighted_ce_binary_matches_numpy_with_class_and_pixel_weights():
    t, p = binary_case()
    w = RNG.uniform(0.5, 3, t.shape[:-1]).astype("float32")
    loss = L.WeightedCrossEntropy(class_weights=(0.5, 2.0))
    ce = -(2.0 * t * np.log(p) + 0.5 * (1 - t) * np.log(1 - p))[..., 0]
    np.testing.assert_allclose(_np(loss(t, p)), ce.mean(), rtol=1e-5)
    # Keras divides sum(w * ce) by the pixel count, not by sum(w).
    np.testing.assert_allclose(_np(loss(t, p, sample_weight=w)), (w * ce).mean(), rtol=1e-5)


def test_weighted_ce_from_logits_equals_probabilities():
    t, p = binary_case()
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(_np(L.WeightedCrossEntropy(from_logits=True)(t, logits)),
                               _np(L.WeightedCrossEntropy()(t, p)), rtol=1e-5)


def test_weighted_ce_categorical_accepts_class_maps_and_one_hot():
    labels, onehot, p = categorical_case()
    expected = -(onehot * np.log(p) * np.array([1.0, 2.0, 3.0])).sum(-1).mean()
    loss = L.WeightedCrossEntropy(class_weights=(1, 2, 3))
    np.testing.assert_allclose(_np(loss(onehot, p)), expected, rtol=1e-5)
    np.testing.assert_allclose(_np(loss(labels, p)), expected, rtol=1e-5)
    np.testing.assert_allclose(_np(loss(labels[..., None], p)), expected, rtol=1e-5)


def test_focal_binary_and_categorical():
    t, p = binary_case()
    pt = np.where(t == 1, p, 1 - p)
    at = np.where(t == 1, 0.25, 0.75)
    expected = (-at * (1 - pt) ** 2 * np.log(pt)).mean()
    np.testing.assert_allclose(_np(L.FocalLoss()(t, p)), expected, rtol=1e-5)
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(_np(L.FocalLoss(from_logits=True)(t, logits)), expected,
                               rtol=1e-4)
    _, onehot, q = categorical_case()
    expected = (-(0.5 * onehot * (1 - q) ** 1.5 * np.log(q)).sum(-1)).mean()
    np.testing.assert_allclose(_np(L.FocalLoss(alpha=0.5, gamma=1.5)(onehot, q)), expected,
                               rtol=1e-5)


def _sums(t, p, axes):
    return (t * p).sum(axes), ((1 - t) * p).sum(axes), (t * (1 - p)).sum(axes)


@pytest.mark.parametrize("per_image", [True, False])
def test_region_losses_match_numpy(per_image):
    _, t, p = categorical_case()
    axes = (1, 2) if per_image else (0, 1, 2)
    tp, fp, fn = _sums(t, p, axes)
    dice = 1 - ((2 * tp + 1) / (2 * tp + fp + fn + 1)).mean(-1)
    iou = 1 - ((tp + 1) / (tp + fp + fn + 1)).mean(-1)
    tversky = 1 - ((tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1)).mean(-1)
    for loss, expected in [(L.DiceLoss(per_image=per_image), dice),
                           (L.IoULoss(per_image=per_image), iou),
                           (L.TverskyLoss(per_image=per_image), tversky)]:
        np.testing.assert_allclose(_np(loss(t, p)), expected.mean(), rtol=1e-5)


def test_region_losses_on_empty_and_perfect_masks():
    empty = np.zeros((1, 16, 16, 1), "float32")
    for loss in (L.DiceLoss(), L.IoULoss(), L.TverskyLoss()):
        assert float(_np(loss(empty, empty))) == pytest.approx(0.0, abs=1e-6)
        assert float(_np(loss(empty, empty + 1))) > 0.9


def test_region_loss_rejects_a_pixel_weight_map():
    t, p = binary_case()
    with pytest.raises(ValueError, match="region loss.*WeightedCrossEntropy"):
        L.DiceLoss()(t, p, sample_weight=np.ones(t.shape[:-1], "float32"))


@pytest.mark.parametrize("size", [176, 193, 256])
def test_ms_ssim_agrees_with_tensorflow(size):
    tf = pytest.importorskip("tensorflow")
    a = RNG.random((2, size, size + 7, 2)).astype("float32")
    b = np.clip(a + RNG.normal(0, 0.2, a.shape), 0, 1).astype("float32")
    expected = tf.image.ssim_multiscale(a, b, max_val=1.0).numpy()
    ours = _np(L.ms_ssim(a, b)).mean(-1)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    loss = L.MSSSIMLoss()(a, b)
    np.testing.assert_allclose(_np(loss), 1 - expected.mean(), atol=1e-4)


def test_ms_ssim_small_input_error_and_fewer_scales():
    small = np.zeros((1, 64, 64, 1), "float32")
    with pytest.raises(ValueError, match="at least 161 px.*power_factors"):
        L.MSSSIMLoss()(small, small)
    fewer = L.MSSSIMLoss(power_factors=(0.0448, 0.2856, 0.3001))
    assert float(_np(fewer(small, small))) == pytest.approx(0.0, abs=1e-5)


def _bar(height=16, width=32, rows=(6, 11)):
    bar = np.zeros((1, height, width, 1), "float32")
    bar[:, rows[0]:rows[1]] = 1
    return bar


def test_soft_skeleton_of_a_bar_is_its_centre_line():
    bar = _bar()
    skeleton = _np(L.soft_skeleton(keras.ops.convert_to_tensor(bar), 3))[0, ..., 0]
    assert skeleton.min() >= 0 and skeleton.max() <= 1 + 1e-6
    assert not skeleton[bar[0, ..., 0] == 0].any()  # inside the bar only
    assert skeleton[8, 4:-4].min() == pytest.approx(1.0)  # the centre row, away from the ends
    assert skeleton[[6, 10], 4:-4].max() == pytest.approx(0.0)  # not its edges


def test_cldice_counts_a_gap_more_than_the_same_pixels_off_an_edge():
    truth = _bar()
    gap, thinner = truth.copy(), truth.copy()
    gap[:, 6:11, 14:19] = 0  # cuts the bar: 25 pixels
    thinner[:, 6, 0:25] = 0  # 25 pixels off its top edge, still one piece
    dice, cldice = L.DiceLoss(), L.ClDiceLoss()
    assert _np(dice(truth, gap)) == pytest.approx(_np(dice(truth, thinner)))
    assert _np(cldice(truth, truth)) == pytest.approx(0.0, abs=1e-6)
    assert _np(cldice(truth, gap)) > 2 * _np(cldice(truth, thinner))


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cldice_is_finite_on_empty_and_full_masks(dtype):
    for mask in (np.zeros((2, 16, 16, 1)), np.ones((2, 16, 16, 1))):
        for pred in (np.zeros_like(mask), np.ones_like(mask)):
            value = _np(L.ClDiceLoss()(mask.astype(dtype), pred.astype(dtype)))
            assert np.isfinite(value) and 0 <= value <= 1


def test_cldice_rejects_bad_settings():
    with pytest.raises(ValueError, match="iterations >= 1"):
        L.ClDiceLoss(iterations=0)


def test_loss_arithmetic_and_serialisation():
    t, p = binary_case()
    combined = L.FocalLoss() + 0.5 * L.DiceLoss()
    assert isinstance(combined, L.CombinedLoss)
    assert combined.weights == [1.0, 0.5]
    expected = _np(L.FocalLoss()(t, p)) + 0.5 * _np(L.DiceLoss()(t, p))
    np.testing.assert_allclose(_np(combined(t, p)), expected, rtol=1e-6)
    restored = keras.losses.deserialize(keras.losses.serialize(combined))
    np.testing.assert_allclose(_np(restored(t, p)), expected, rtol=1e-6)
    triple = 2 * (L.FocalLoss() + L.IoULoss()) + L.DiceLoss()
    assert triple.weights == [2.0, 2.0, 1.0]


def test_combined_loss_sends_weight_maps_to_pixelwise_parts_only():
    t, p = binary_case()
    w = RNG.uniform(0.5, 3, t.shape[:-1]).astype("float32")
    combined = L.WeightedCrossEntropy() + L.DiceLoss()
    expected = _np(L.WeightedCrossEntropy()(t, p, sample_weight=w)) + _np(L.DiceLoss()(t, p))
    np.testing.assert_allclose(_np(combined(t, p, sample_weight=w)), expected, rtol=1e-6)


def test_hybrid_loss_is_focal_plus_ms_ssim_plus_iou():
    a = RNG.random((1, 176, 176, 1)).astype("float32")
    t = (RNG.random(a.shape) > 0.5).astype("float32")
    hybrid = L.HybridLoss()
    expected = sum(_np(loss(t, a)) for loss in (L.FocalLoss(), L.MSSSIMLoss(), L.IoULoss()))
    np.testing.assert_allclose(_np(hybrid(t, a)), expected, rtol=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(hybrid))
    assert isinstance(restored, L.HybridLoss)
    np.testing.assert_allclose(_np(restored(t, a)), expected, rtol=1e-5)


def test_deep_supervision_helper():
    model = zoo.unet_3plus((32, 32, 1), 1, encoder_options={"filters": 2}, cat_channels=2, depth=2,
                           deep_supervision=True, cgm=True)
    args = L.deep_supervision(model, L.DiceLoss(), weights=[1, 0.5, 0.25])
    assert set(args["loss"]) == {"head_de1", "head_de2", "head_en3", "classification"}
    assert args["loss"]["classification"] == "binary_crossentropy"
    assert args["loss_weights"] == {"head_de1": 1.0, "head_de2": 0.5, "head_en3": 0.25,
                                    "classification": 1.0}


SMALL_MS_SSIM = (0.0448, 0.2856)
TRAINABLE = {
    "weighted_ce": lambda: L.WeightedCrossEntropy(),
    "focal": lambda: L.FocalLoss(),
    "dice": lambda: L.DiceLoss(),
    "iou": lambda: L.IoULoss(),
    "tversky": lambda: L.TverskyLoss(),
    "ms_ssim": lambda: L.MSSSIMLoss(power_factors=SMALL_MS_SSIM),
    "hybrid": lambda: L.HybridLoss(power_factors=SMALL_MS_SSIM),
    "focal+dice": lambda: L.FocalLoss() + 0.5 * L.DiceLoss(),
    "dice+cldice": lambda: 0.5 * L.DiceLoss() + 0.5 * L.ClDiceLoss(),
}


@pytest.mark.parametrize("name", TRAINABLE)
def test_each_loss_trains_a_tiny_unet_and_saves(name, tmp_path):
    images, masks, labels = synthetic_cells(8, 32, seed=2)
    model = zoo.unet((32, 32, 1), 1, depth=2, encoder_options={"filters": 8}, dropout=0.0)
    model.compile(keras.optimizers.Adam(3e-3), loss=TRAINABLE[name]())
    weights = zoo.data.unet_weight_map(labels) if name == "weighted_ce" else None
    before = model.evaluate(images, masks[..., None], sample_weight=weights, verbose=0)
    model.fit(images, masks[..., None], sample_weight=weights, batch_size=4, epochs=10,
              verbose=0)
    after = model.evaluate(images, masks[..., None], sample_weight=weights, verbose=0)
    assert np.isfinite(after) and after < before
    model.save(tmp_path / "m.keras")
    keras.saving.load_model(tmp_path / "m.keras")  # the compiled loss deserialises too


def test_loss_from_spec_builds_the_sum_and_names_a_bad_term():
    loss = L.loss_from_spec("wce + 0.5*dice")
    assert isinstance(loss, L.CombinedLoss) and loss.weights == [1.0, 0.5]
    assert [type(part).__name__ for part in loss.losses] == ["WeightedCrossEntropy",
                                                              "DiceLoss"]
    assert isinstance(L.loss_from_spec("hybrid"), L.HybridLoss)
    for bad in ("dice+", "0*dice", "boundary", "x*iou"):
        with pytest.raises(ValueError, match="each NAME or WEIGHT\\*NAME"):
            L.loss_from_spec(bad)
