"""One parametrised suite run over every architecture x a representative encoder per family."""

import keras
import numpy as np
import pytest

import zoo

SMALL = {  # the smallest configurations that exercise each decoder fully
    "unet": {},
    "unet_3plus": {"cat_channels": 4},
    "unet_plus_plus": {},
}
ENCODERS = {"plain": {"encoder_options": {"filters": 4}, "depth": 3}, "resnet18": {},
            "efficientnetb0": {}, "vgg16": {"depth": 4}}
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

    def test_outputs_declare_their_roles(self, model_name, encoder):
        roles = zoo.models.output_roles(build(model_name, encoder, deep_supervision=True)
                                        if model_name != "unet" else build(model_name, encoder))
        assert [role for role, _ in roles.values()].count("mask") == 1

    def test_freeze_and_unfreeze(self, model_name, encoder):
        full = len(build(model_name, encoder).trainable_weights)
        model = build(model_name, encoder, encoder_freeze=True)
        frozen = model.get_layer("encoder")
        assert not frozen.trainable
        assert len(model.trainable_weights) < full
        zoo.unfreeze_encoder(model)
        assert frozen.trainable and len(model.trainable_weights) == full

    def test_any_input_size_pads_and_crops_back(self, model_name, encoder):
        model = build(model_name, encoder, input_size="any")
        x = np.random.default_rng(2).random((1, 19, 27, 1), "float32")
        strict = build(model_name, encoder)
        with pytest.raises(ValueError, match="divisible"):
            zoo.build(model_name, input_shape=(19, 27, 1), encoder=encoder, **SMALL[model_name],
                      **ENCODERS[encoder])
        assert strict.output_shape[1:3] == model.output_shape[1:3]
        variable = zoo.build(model_name, input_shape=(None, None, 1), num_classes=2,
                             encoder=encoder, input_size="any", **SMALL[model_name],
                             **ENCODERS[encoder])
        assert variable.predict(x, verbose=0).shape == (1, 19, 27, 2)

    def test_fit_lowers_the_loss(self, model_name, encoder):
        keras.utils.set_random_seed(0)
        model = build(model_name, encoder, dropout=0.0)
        size = model.input_shape[1]
        x = np.random.default_rng(3).random((4, size, size, 1), "float32")
        y = keras.utils.to_categorical(x[..., 0] > 0.5, 2)
        model.compile(keras.optimizers.Adam(3e-3), "categorical_crossentropy")
        history = model.fit(x, y, epochs=8, batch_size=4, verbose=0).history["loss"]
        assert history[-1] < history[0]

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
    model = zoo.build(alias, input_shape=(16, 16, 1), encoder_options={"filters": 2}, depth=2,
                      **({"cat_channels": 2} if name == "unet_3plus" else {}))
    assert model.name == name
