"""The single entry point and the registries behind it."""

import pytest

import zoo
from zoo.registry import Registry


def test_build_by_name_and_alias():
    for name in ("unet", "U-Net", "u_net"):
        model = zoo.build(name, input_shape=(32, 32, 1), depth=2, encoder_options={"filters": 2})
        assert model.name == "unet"


def test_list_models_has_unet():
    assert "unet" in zoo.list_models()


def test_unknown_model_suggests_close_names():
    with pytest.raises(ValueError, match="unknown model 'unte'; did you mean 'unet'"):
        zoo.build("unte")
    with pytest.raises(ValueError, match="Registered: .*unet"):
        zoo.build("segformer")


def test_list_encoders_reports_channels_and_aliases():
    encoders = zoo.list_encoders()
    assert encoders["plain"]["channels"] == {1: 64, 2: 128, 4: 256, 8: 512, 16: 1024}
    assert encoders["plain"]["aliases"] == ["vanilla"]
    assert encoders["plain"]["input_range"] == (0.0, 1.0)


def test_vanilla_alias_builds_the_same_model():
    a = zoo.unet((32, 32, 1), encoder="vanilla", depth=2, encoder_options={"filters": 2})
    b = zoo.unet((32, 32, 1), encoder="plain", depth=2, encoder_options={"filters": 2})
    assert a.count_params() == b.count_params()


def test_encoder_contract_features_by_stride():
    import keras

    features = zoo.get_encoder("plain")(keras.Input((32, 32, 1)), depth=3, filters=4)
    assert sorted(features.features) == [1, 2, 4, 8]
    assert features.channels == {1: 4, 2: 8, 4: 16, 8: 32}
    assert features.bottleneck_stride == 8
    assert features.features[8].shape[1:3] == (4, 4)


def test_unknown_encoder_option_lists_accepted_ones():
    import keras

    with pytest.raises(TypeError, match="accepts: batch_norm, filters"):
        zoo.get_encoder("plain")(keras.Input((32, 32, 1)), widths=3)


def test_registry_rejects_duplicates_and_non_strings():
    registry = Registry("thing")
    registry.add("a", 1, "b")
    with pytest.raises(ValueError, match="already registered"):
        registry.add("B", 2)
    with pytest.raises(TypeError, match="must be a string"):
        registry.get(3)
    assert "A" in registry and registry.get(" b ") == 1
