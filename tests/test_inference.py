"""Overlap-tile inference: equivalence, odd sizes, stacks, valid models, TTA."""

import numpy as np
import pytest

import zoo

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def same_model():
    return zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4}, dropout=0.0)


def test_constant_blend_equals_whole_image_prediction(same_model):
    image = RNG.random((100, 132)).astype("float32")
    whole = same_model.predict(image[None, ..., None], verbose=0)[0]
    tiled = zoo.predict_tiled(same_model, image, tile_size=96, overlap=64, blend="constant")
    assert tiled.shape == (100, 132, 1)
    np.testing.assert_allclose(tiled[32:-32, 32:-32], whole[32:-32, 32:-32], atol=1e-5)


def test_gaussian_blend_is_close_to_whole_image(same_model):
    image = RNG.random((128, 128)).astype("float32")
    whole = same_model.predict(image[None, ..., None], verbose=0)[0]
    tiled = zoo.predict_tiled(same_model, image, tile_size=64, overlap=32)
    assert np.abs(tiled[32:-32, 32:-32] - whole[32:-32, 32:-32]).mean() < 0.01


@pytest.mark.parametrize("shape", [(20, 30), (63, 65), (97, 41, 1)])
def test_any_size_including_smaller_than_a_tile(same_model, shape):
    out = zoo.predict_tiled(same_model, RNG.random(shape).astype("float32"), tile_size=64)
    assert out.shape == (*shape[:2], 1) and np.isfinite(out).all()


def test_stacks(same_model):
    stack = RNG.random((3, 40, 50, 1)).astype("float32")
    out = zoo.predict_tiled(same_model, stack, tile_size=32, verbose=False)
    assert out.shape == (3, 40, 50, 1)
    np.testing.assert_allclose(out[1], zoo.predict_tiled(same_model, stack[1], tile_size=32))


def test_valid_model_uses_the_papers_mirror_padding():
    model = zoo.unet((188, 188, 1), 2, padding="valid", encoder_options={"filters": 2})
    image = RNG.random((4, 4)).astype("float32")  # exactly one 4x4 output tile
    padded = np.pad(image, 92, mode="reflect")
    expected = model.predict(padded[None, ..., None], verbose=0)[0]
    np.testing.assert_allclose(zoo.predict_tiled(model, image), expected, atol=1e-6)
    big = zoo.predict_tiled(model, RNG.random((30, 21)).astype("float32"))
    assert big.shape == (30, 21, 2)
    np.testing.assert_allclose(big.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("tta,count", [("flips", 4), ("d4", 8)])
def test_tta_averages_transformed_predictions(same_model, tta, count):
    image = RNG.random((64, 64)).astype("float32")
    out = zoo.predict_tiled(same_model, image, tile_size=64, overlap=0, blend="constant",
                            tta=tta)  # one tile: TTA of the whole image
    views = [image, image[:, ::-1], image[::-1], image[::-1, ::-1]]
    preds = [same_model.predict(v[None, ..., None], verbose=0)[0] for v in views]
    inverse = [preds[0], preds[1][:, ::-1], preds[2][::-1], preds[3][::-1, ::-1]]
    if count == 8:
        for v in views:
            p = same_model.predict(v.T[None, ..., None], verbose=0)[0]
            inverse.append(np.swapaxes(p, 0, 1))
        inverse[4:] = [inverse[4], inverse[5][:, ::-1], inverse[6][::-1], inverse[7][::-1, ::-1]]
    np.testing.assert_allclose(out, np.mean(inverse, axis=0), atol=1e-5)


def test_errors(same_model):
    with pytest.raises(ValueError, match="tta"):
        zoo.predict_tiled(same_model, np.zeros((8, 8)), tta="rot")
    with pytest.raises(ValueError, match="does not fit"):
        zoo.predict_tiled(same_model, np.zeros((2, 8, 8, 3)))
    fixed = zoo.unet((64, 64, 1), 1, depth=2, encoder_options={"filters": 2})
    with pytest.raises(ValueError, match="takes 64x64 inputs"):
        zoo.predict_tiled(fixed, np.zeros((100, 100)), tile_size=32)


def test_context_predicts_a_stack_with_a_25d_model():
    import numpy as np

    import zoo

    model = zoo.unet((None, None, 3), 1, depth=2, encoder_options={"filters": 4})
    stack = np.random.default_rng(0).random((3, 32, 32)).astype("float32")
    out = zoo.predict_tiled(model, stack, tile_size=32, context=1, verbose=False)
    assert out.shape == (3, 32, 32, 1)
    stacked = zoo.data.with_context(stack, 1)  # (3, 32, 32, 3)
    direct = zoo.predict_tiled(model, stacked, tile_size=32, verbose=False)
    np.testing.assert_allclose(out, direct, atol=1e-6)
