"""Property-based tests (hypothesis): tiling reconstructs whole-image prediction for any
image size, tile and overlap; weight maps are finite (and >= 1 without class
balancing); run-length strings round-trip."""

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import zoo
from zoo.data import unet_weight_map
from zoo.kaggle import rle_decode, rle_encode

RADIUS = 2  # two 3x3 convs: each output pixel sees 2 px to every side
EXAMPLES = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def conv_model():
    """A fully convolutional model of any input size with receptive-field radius 2."""
    keras.utils.set_random_seed(1)
    image = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(image)
    out = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(image, out)


@EXAMPLES
@given(height=st.integers(8, 70), width=st.integers(8, 70), tile=st.integers(8, 40),
       overlap=st.integers(2 * RADIUS, 39), seed=st.integers(0, 2**16))
def test_constant_blend_tiling_equals_whole_image_prediction(conv_model, height, width, tile,
                                                             overlap, seed):
    """With overlap / 2 >= the receptive-field radius, every kept pixel of a tile saw the
    same context as in one pass over the (mirror-padded) whole image."""
    overlap = min(overlap, tile - 1)
    image = np.random.default_rng(seed).random((height, width)).astype("float32")
    tiled = zoo.predict_tiled(conv_model, image, tile_size=tile, overlap=overlap,
                              blend="constant", verbose=False)
    padded = np.pad(image, RADIUS, mode="reflect")[None, ..., None]
    whole = conv_model.predict_on_batch(padded)[0, RADIUS:-RADIUS, RADIUS:-RADIUS]
    assert tiled.shape == (height, width, 1)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


LABEL_IMAGES = arrays(np.int32, st.tuples(st.integers(4, 24), st.integers(4, 24)),
                      elements=st.integers(0, 5))


@EXAMPLES
@given(labels=LABEL_IMAGES, w0=st.floats(0, 20), sigma=st.floats(0.5, 10))
def test_weight_maps_are_finite_and_at_least_one_without_balancing(labels, w0, sigma):
    weights = unet_weight_map(labels, w0=w0, sigma=sigma, class_weights=None)
    assert weights.shape == labels.shape and np.isfinite(weights).all()
    assert (weights >= 1).all()
    balanced = unet_weight_map(labels, w0=w0, sigma=sigma)
    assert np.isfinite(balanced).all() and (balanced > 0).all()


MASKS = arrays(np.uint8, st.tuples(st.integers(1, 30), st.integers(1, 30)),
               elements=st.integers(0, 1))


@settings(max_examples=200, deadline=None)
@given(mask=MASKS, order=st.sampled_from(["column", "row"]))
def test_run_length_strings_round_trip(mask, order):
    rle = rle_encode(mask, order=order)
    np.testing.assert_array_equal(rle_decode(rle, mask.shape, order=order), mask)
