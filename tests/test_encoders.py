"""Every registered encoder: strides, channels, weights files, gray input, freezing."""

import keras
import numpy as np
import pytest

import zoo
from zoo.encoders.applications import BACKBONES

# One encoder per family runs on every backend; the rest run in the slow (TensorFlow) pass.
REPRESENTATIVES = {"plain", "resnet18", "hrnet_w18", "resnet50", "resnet50v2", "efficientnetb0",
                   "efficientnetv2b0", "vgg16"}
SLOW = pytest.mark.slow
ENCODERS = [name if name in REPRESENTATIVES else pytest.param(name, marks=pytest.mark.slow)
            for name in zoo.list_encoders()]


@pytest.mark.parametrize("name", ENCODERS)
def test_encoder_builds_a_unet_with_the_declared_strides_and_channels(name):
    spec = zoo.get_encoder(name)
    side = 2**spec.default_depth  # the smallest legal size
    features = spec(keras.Input((side, side, 3)))
    assert features.channels == spec.channels
    for stride, tensor in features.features.items():
        assert tuple(tensor.shape[1:3]) == (side // stride, side // stride)
    model = zoo.unet((side, side, 1), 2, encoder=name)
    out = model.predict(np.random.default_rng(0).random((1, side, side, 1), "float32"),
                        verbose=0)
    assert out.shape == (1, side, side, 2) and np.isfinite(out).all()


@pytest.mark.parametrize("name", ["resnet18", "efficientnetb0", "vgg16"])
def test_smaller_depth_drops_the_deepest_features(name):
    features = zoo.get_encoder(name)(keras.Input((32, 32, 3)), depth=3)
    assert max(features.features) == 8
    assert zoo.unet((16, 16, 3), encoder=name, depth=4).output_shape == (None, 16, 16, 1)


def test_size_not_divisible_by_32_names_the_padded_size():
    with pytest.raises(ValueError, match="not divisible by 32.*pad the image to 96"):
        zoo.unet((80, 80, 3), encoder="resnet34")


def test_only_plain_supports_valid_padding():
    with pytest.raises(ValueError, match="only available with encoder='plain'"):
        zoo.unet((572, 572, 3), encoder="resnet18", padding="valid")


def test_resnet18_has_no_downloadable_imagenet_weights():
    with pytest.raises(ValueError, match="pass the path of a weights file"):
        zoo.unet((64, 64, 3), encoder="resnet18", encoder_weights="imagenet")


def _weights_file(name, tmp_path):
    backbone = BACKBONES[name].constructor(include_top=False, weights=None,
                                           input_shape=(None, None, 3),
                                           **BACKBONES[name].kwargs)
    rng = np.random.default_rng(1)
    backbone.set_weights([w + 0.01 * rng.standard_normal(w.shape).astype(w.dtype)
                          if w.ndim else w for w in backbone.get_weights()])
    path = tmp_path / f"{name}.weights.h5"
    backbone.save_weights(path)
    return backbone, path


@pytest.mark.parametrize("name", ["resnet18", pytest.param("hrnet_w18", marks=SLOW),
                                  pytest.param("resnet50", marks=SLOW),
                                  pytest.param("efficientnetv2b0", marks=SLOW)])
def test_local_weights_file_is_loaded_exactly(name, tmp_path):
    backbone, path = _weights_file(name, tmp_path)
    model = zoo.unet((64, 64, 3), 1, encoder=name, encoder_weights=str(path))
    loaded = model.get_layer("encoder").get_weights()
    expected = backbone.get_weights()
    assert len(loaded) == len(expected)
    for a, b in zip(loaded, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    # The same file twice gives the same network.
    again = zoo.unet((64, 64, 3), 1, encoder=name, encoder_weights=str(path))
    again.set_weights(model.get_weights())
    x = np.random.default_rng(2).random((1, 64, 64, 3), "float32")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["resnet18", pytest.param("resnet50", marks=SLOW),
                                  pytest.param("efficientnetb0", marks=SLOW),
                                  pytest.param("vgg16", marks=SLOW)])
def test_gray_input_matches_the_rgb_model_on_replicated_gray(name, tmp_path):
    _, path = _weights_file(name, tmp_path)
    rgb = zoo.unet((64, 64, 3), 1, encoder=name, encoder_weights=str(path))
    gray = zoo.unet((64, 64, 1), 1, encoder=name, encoder_weights=str(path))
    for layer in rgb.layers:
        if layer.name != "encoder_preprocess" and layer.weights:
            gray.get_layer(layer.name).set_weights(layer.get_weights())
    image = np.random.default_rng(3).random((2, 64, 64, 1), "float32")
    np.testing.assert_allclose(gray.predict(image, verbose=0),
                               rgb.predict(np.repeat(image, 3, axis=-1), verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_many_channels_with_pretrained_weights_average_into_rgb(tmp_path):
    _, path = _weights_file("resnet18", tmp_path)
    rgb = zoo.unet((32, 32, 3), 1, encoder="resnet18", encoder_weights=str(path))
    six = zoo.unet((32, 32, 6), 1, encoder="resnet18", encoder_weights=str(path))
    for layer in rgb.layers:
        if layer.name != "encoder_preprocess" and layer.weights:
            six.get_layer(layer.name).set_weights(layer.get_weights())
    image = np.random.default_rng(4).random((1, 32, 32, 3), "float32")
    np.testing.assert_allclose(six.predict(np.concatenate([image, image], -1), verbose=0),
                               rgb.predict(image, verbose=0), rtol=1e-4, atol=1e-5)


def test_preprocessing_is_fixed_and_saved(tmp_path):
    model = zoo.unet((32, 32, 3), 1, encoder="resnet50")
    pre = model.get_layer("encoder_preprocess")
    assert not pre.trainable
    kernel, bias = pre.get_weights()
    np.testing.assert_allclose(kernel[0, 0], 255 * np.eye(3)[::-1])  # RGB -> BGR, x255
    np.testing.assert_allclose(bias, [-103.939, -116.779, -123.68], rtol=1e-6)


def test_freeze_and_unfreeze_change_the_trainable_weights():
    full = len(zoo.unet((32, 32, 3), 1, encoder="resnet18").trainable_weights)
    model = zoo.unet((32, 32, 3), 1, encoder="resnet18", encoder_freeze=True)
    encoder = model.get_layer("encoder")
    assert not encoder.trainable
    assert len(model.trainable_weights) == full - len(encoder.weights) + len(
        [w for w in encoder.weights if "moving" in w.path])
    before = [w.copy() for w in encoder.get_weights()]
    model.compile("adam", "binary_crossentropy")
    x = np.random.default_rng(0).random((2, 32, 32, 3), "float32")
    model.fit(x, (x[..., :1] > 0.5).astype("float32"), epochs=1, verbose=0)
    for a, b in zip(before, encoder.get_weights(), strict=True):  # BN stats frozen too
        np.testing.assert_array_equal(a, b)
    zoo.unfreeze_encoder(model)
    assert len(model.trainable_weights) == full


def test_plain_encoder_freezes_its_layers():
    model = zoo.unet((32, 32, 1), depth=2, encoder_options={"filters": 2}, encoder_freeze=True)
    encoder = model.get_layer("encoder")
    assert not encoder.trainable and not encoder.get_layer("encoder_stage1_conv1").trainable
    assert model.get_layer("decoder_stage1_conv1").trainable
    zoo.unfreeze_encoder(model)
    assert encoder.get_layer("encoder_stage1_conv1").trainable


# Frozen encoders round-trip; every family's round trip is tests/test_models.py's.
@pytest.mark.parametrize("name", ["resnet18", "efficientnetb0"])
def test_frozen_encoder_round_trips(name, tmp_path):
    model = zoo.unet((32, 32, 1), 2, encoder=name, encoder_freeze=True)
    x = np.random.default_rng(0).random((1, 32, 32, 1), "float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    assert not loaded.get_layer("encoder").trainable
