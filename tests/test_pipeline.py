"""The one model pipeline: options and their errors, declared roles, input_size="any"."""

import inspect

import keras
import numpy as np
import pytest

import zoo
from zoo.models import mask_output, output_roles

TINY = {"input_shape": (16, 16, 1), "depth": 2, "encoder_options": {"filters": 2}}


@pytest.mark.parametrize("kwargs,error,words", [
    ({"filters": 4}, TypeError, "option of encoder 'plain'.*encoder_options"),
    ({"widths": 4}, TypeError, "decoder options are: decoder_filters"),
    ({"encoder_options": {"widths": 4}}, TypeError, "accepts: batch_norm, filters"),
    ({"input_size": "loose"}, ValueError, "input_size must be one of"),
    ({"cgm": True, "cgm_threshold": 2.0}, ValueError, "probability in \\(0, 1\\)"),
])
def test_bad_options_name_the_fix(kwargs, error, words):
    with pytest.raises(error, match=words):
        zoo.unet(**{**TINY, **kwargs})


def test_valid_padding_is_the_unets_only():
    with pytest.raises(ValueError, match="supports padding \\['same'\\]"):
        zoo.unet_plus_plus((188, 188, 1), padding="valid")
    with pytest.raises(ValueError, match="padding='same' only"):
        zoo.unet((188, 188, 1), padding="valid", input_size="any")


def test_builders_have_full_signatures_and_docs():
    parameters = inspect.signature(zoo.unet_3plus).parameters
    assert parameters["cat_channels"].default == 64
    assert parameters["batch_norm"].default is True
    assert inspect.signature(zoo.unet).parameters["dropout"].default == 0.5
    assert "Huang" in zoo.unet_3plus.__doc__ and "encoder_options" in zoo.unet_3plus.__doc__


def test_cgm_works_on_any_architecture_and_keys_its_loss():
    model = zoo.unet(**TINY, cgm=True)
    assert output_roles(model) == {"head": ("mask", None),
                                   "classification": ("classification", None)}
    compiled = zoo.losses.deep_supervision(model, "binary_crossentropy",
                                           classification_loss="mse")
    assert compiled["loss"] == {"head": "binary_crossentropy", "classification": "mse"}
    mask, probability = model.predict(np.zeros((2, 16, 16, 1), "float32"), verbose=0)
    assert mask.shape == (2, 16, 16, 1) and probability.shape == (2, 1)


def test_roles_survive_a_round_trip(tmp_path):
    model = zoo.unet_plus_plus(**TINY, deep_supervision=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert output_roles(loaded) == output_roles(model) == {
        "head_l1": ("side", 1), "head_l2": ("mask", 2)}
    assert mask_output(loaded, ["side", "main"]) == "main"
    assert zoo.prune(loaded, 1).output_names == ["head_l1"]


def test_models_not_built_by_the_pipeline_have_no_roles():
    inputs = keras.Input((8, 8, 1))
    plain = keras.Model(inputs, keras.layers.Conv2D(1, 1, name="out")(inputs))
    with pytest.raises(ValueError, match="declares no role.*zoo.build"):
        output_roles(plain)
    assert mask_output(plain, ["first", "second"]) == "first"
    assert mask_output(plain, (None, 8, 8, 1)) == (None, 8, 8, 1)
    with pytest.raises(ValueError, match="no nested 'encoder'"):
        zoo.unfreeze_encoder(plain)


def test_predict_tiled_uses_the_mask_output_of_deep_supervision():
    model = zoo.unet_plus_plus((None, None, 1), **{k: v for k, v in TINY.items()
                                                 if k != "input_shape"}, deep_supervision=True)
    image = np.random.default_rng(0).random((32, 32), "float32")
    main = keras.Model(model.inputs, model.get_layer("head_l2").output)
    np.testing.assert_allclose(zoo.predict_tiled(model, image, tile_size=32),
                               zoo.predict_tiled(main, image, tile_size=32), atol=1e-6)


@pytest.mark.parametrize("height,width", [(97, 130), (5, 3), (16, 16)])
def test_any_input_size_reflects_then_crops_back(height, width):
    model = zoo.unet((None, None, 1), input_size="any", depth=4, encoder_options={"filters": 2})
    x = np.random.default_rng(1).random((1, height, width, 1), "float32")
    assert model.predict(x, verbose=0).shape == (1, height, width, 1)
    padded = zoo.models.base.PadToMultiple(16)(x)
    assert tuple(padded.shape[1:3]) == (-(-height // 16) * 16, -(-width // 16) * 16)
    if height > 1 and height < 16:  # reflected as far as the side allows, zeros beyond
        column = keras.ops.convert_to_numpy(padded)[0, :, 0, 0]
        np.testing.assert_allclose(column[height:2 * height - 1], x[0, -2::-1, 0, 0])
        assert not column[2 * height - 1:].any()
