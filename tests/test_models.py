"""One parametrised suite run over every architecture x a representative encoder per family."""

import keras
import numpy as np
import pytest

import zoo
from zoo.registry import MODELS

SMALL = {  # the smallest configurations that exercise each decoder fully
    "deeplabv3_plus": {"aspp_filters": 8, "low_level_filters": 4, "decoder_filters": 8},
    "fcn": {"fc_filters": 8, "fc_dropout": 0.0},
    "hrnet": {},
    "unet": {},
    "unet_3plus": {"cat_channels": 4},
    "unet_plus_plus": {},
}
# One encoder per family; DeepLabV3+'s output stride: dilated where the encoder can
# (plain: two stages, resnet18: one), else the encoder's own. Every backend runs the whole
# contract for every architecture on plain and resnet18; the other families' first fit
# traces a large graph (minutes on a 2-core CPU), so three of them run the contract with the
# U-Net in the slow (TensorFlow) pass, and every architecture is built on every family
# there. Members of one family differ in depth and width only; tests/test_encoders.py
# checks each member's declared strides and channels, and the slow pass builds every
# architecture on every other member too (all pairs).
FAMILIES = {"plain": ({"encoder_options": {"filters": 4}, "depth": 3}, 4),
            "resnet18": ({}, 16), "efficientnetb0": ({}, 32), "vgg16": ({"depth": 4}, 16),
            "mobilenetv3small": ({}, 32), "resnet50": ({}, 16), "resnet50v2": ({}, 32),
            "efficientnetv2b0": ({}, 32), "mobilenetv2": ({}, 32), "densenet121": ({}, 32),
            "convnext_tiny": ({}, 32)}
DILATED = set(zoo.encoders.dilatable_encoders())


def options(model, encoder):
    encoder_options, output_stride = FAMILIES.get(
        encoder, ({}, 16 if encoder in DILATED else 32))
    extra = {"output_stride": output_stride} if model == "deeplabv3_plus" else {}
    return {**SMALL[model], **encoder_options, **extra}


def build(model, encoder, **kwargs):
    size = 32 if encoder != "plain" else 16
    return zoo.build(model, input_shape=(size, size, 1), num_classes=2, encoder=encoder,
                     **options(model, encoder), **kwargs)


def test_every_architecture_is_registered():
    assert set(SMALL) <= set(zoo.list_models())


EVERY_BACKEND = ("plain", "resnet18")
# ... and on VGG-16 (no batch norm); every family's build and round trip is the slow pass's.
CONTRACTS = [(model, encoder) for model in sorted(SMALL) for encoder in EVERY_BACKEND] + [
    pytest.param("unet", "vgg16", marks=pytest.mark.slow)]


@pytest.mark.parametrize("model_name,encoder", CONTRACTS)
def test_contract(model_name, encoder, tmp_path):
    """Shapes, float32 softmax, one mask output, .keras round trip, freeze, fit."""
    model = build(model_name, encoder, dropout=0.0)
    size = model.input_shape[1]
    left = np.arange(size) < size // 2  # a target every architecture can learn, FCN included
    x = 0.5 * np.random.default_rng(0).random((4, size, size, 1), "float32") + 0.5 * left[:, None]
    out = model.predict(x, verbose=0)
    assert out.shape == (4, size, size, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
    assert [role for role, _ in zoo.models.output_roles(model).values()] == ["mask"]

    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), out, rtol=1e-6, atol=1e-6)

    full = len(model.trainable_weights)
    frozen = build(model_name, encoder, encoder_freeze=True)
    assert not frozen.get_layer("encoder").trainable
    assert len(frozen.trainable_weights) == full - len(
        model.get_layer("encoder").trainable_weights)
    zoo.unfreeze_encoder(frozen)
    assert len(frozen.trainable_weights) == full

    y = keras.utils.to_categorical(np.broadcast_to(left, (4, size, size)), 2)
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")  # 3e-3: BN spikes
    history = model.fit(x, y, epochs=8, batch_size=4, verbose=0).history["loss"]
    assert history[-1] < history[0]


@pytest.mark.slow
@pytest.mark.parametrize("model_name,encoder", [
    (model, encoder) for model in sorted(SMALL) for encoder in FAMILIES
    if encoder not in EVERY_BACKEND])
def test_every_architecture_builds_on_every_encoder_family(model_name, encoder, tmp_path):
    """... and round-trips through .keras with identical outputs (every output). A decoder
    sees only an encoder's features (strides, channels), which tests/test_encoders.py checks
    for every member of each family, so one member per family crosses every architecture."""
    model = build(model_name, encoder)
    assert model.output_shape == (None, 32, 32, 2)
    x = np.random.default_rng(0).random((1, 32, 32, 1), "float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for got, want in zip(keras.tree.flatten(loaded(x, training=False)),
                         keras.tree.flatten(model(x, training=False)), strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got),
                                      keras.ops.convert_to_numpy(want))


@pytest.mark.parametrize("encoder", ["plain", "resnet18"])
@pytest.mark.parametrize("model_name", sorted(SMALL))
class TestPipelineOptions:
    def test_deep_supervision_roles(self, model_name, encoder):
        supervised = "deep_supervision" in MODELS.get(model_name).architecture.options
        roles = zoo.models.output_roles(build(model_name, encoder,
                                              **({"deep_supervision": True} if supervised else {})))
        assert [role for role, _ in roles.values()].count("mask") == 1
        assert len(roles) > 1 or not supervised

    def test_any_input_size_pads_and_crops_back(self, model_name, encoder):
        x = np.random.default_rng(2).random((1, 19, 27, 1), "float32")
        with pytest.raises(ValueError, match="divisible"):
            zoo.build(model_name, input_shape=(19, 27, 1), encoder=encoder,
                      **options(model_name, encoder))
        variable = zoo.build(model_name, input_shape=(None, None, 1), num_classes=2,
                             encoder=encoder, input_size="any", **options(model_name, encoder))
        assert variable.predict(x, verbose=0).shape == (1, 19, 27, 2)

    def test_mixed_precision(self, model_name, encoder):
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = build(model_name, encoder)
        assert model.output.dtype == "float32"
        size = model.input_shape[1]
        out = model.predict(np.ones((1, size, size, 1), "float32"), verbose=0)
        assert np.isfinite(out).all()


@pytest.mark.parametrize("alias,name", [("unet++", "unet_plus_plus"), ("unetpp", "unet_plus_plus"),
                                        ("UNet3+", "unet_3plus"), ("unet3plus", "unet_3plus"),
                                        ("unet_3plus", "unet_3plus"), ("fcn8s", "fcn"),
                                        ("DeepLabV3+", "deeplabv3_plus")])
def test_aliases(alias, name):
    assert MODELS.canonical(alias) == name


def test_an_alias_builds_the_canonical_model():
    model = zoo.build("unet++", input_shape=(16, 16, 1), encoder="plain",
                      encoder_options={"filters": 2}, depth=2)
    assert model.name == "unet_plus_plus"
