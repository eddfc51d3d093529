"""One parametrised suite run over every architecture x a spread of encoders."""

import keras
import numpy as np
import pytest

import zoo

SMALL = {  # the smallest configurations that exercise each decoder fully
    "unet": {},
    "unet_3plus": {"cat_channels": 4},
    "unet_plus_plus": {},
}
ENCODERS = {"plain": {"filters": 4, "depth": 3}, "resnet18": {}, "efficientnetb0": {},
            "vgg16": {"depth": 4}}
# Every backend runs two encoders per architecture; the others run in the slow pass.
ENCODER_PARAMS = [name if name in ("plain", "resnet18") else
                  pytest.param(name, marks=pytest.mark.slow) for name in ENCODERS]


def build(model, encoder, **kwargs):
    size = 32 if encoder != "plain" else 16
    return zoo.build(model, input_shape=(size, size, 1), num_classes=2, encoder=encoder,
                     **SMALL[model], **ENCODERS[encoder], **kwargs)


@pytest.mark.parametrize("encoder", ENCODER_PARAMS)
@pytest.mark.parametrize("model_name", sorted(SMALL))
class TestEveryArchitecture:
    def test_registered(self, model_name, encoder):
        assert model_name in zoo.list_models()

    def test_output_shape_and_float32_softmax(self, model_name, encoder):
        model = build(model_name, encoder)
        size = model.input_shape[1]
        x = np.random.default_rng(0).random((2, size, size, 1), "float32")
        out = model.predict(x, verbose=0)
        assert out.shape == (2, size, size, 2) and out.dtype == np.float32
        np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)

    def test_round_trip(self, model_name, encoder, tmp_path):
        model = build(model_name, encoder)
        size = model.input_shape[1]
        x = np.random.default_rng(1).random((1, size, size, 1), "float32")
        model.save(tmp_path / "m.keras")
        loaded = keras.saving.load_model(tmp_path / "m.keras")
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                                   rtol=1e-6, atol=1e-6)

    def test_mixed_precision(self, model_name, encoder):
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = build(model_name, encoder)
        assert model.output.dtype == "float32"
        size = model.input_shape[1]
        out = model.predict(np.ones((1, size, size, 1), "float32"), verbose=0)
        assert np.isfinite(out).all()


@pytest.mark.parametrize("alias,name", [("unet++", "unet_plus_plus"), ("unetpp", "unet_plus_plus"),
                                        ("UNet3+", "unet_3plus"), ("unet3plus", "unet_3plus"),
                                        ("unet_3plus", "unet_3plus")])
def test_aliases(alias, name):
    model = zoo.build(alias, input_shape=(16, 16, 1), filters=2, depth=2,
                      **({"cat_channels": 2} if name == "unet_3plus" else {}))
    assert model.name == name
