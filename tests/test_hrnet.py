"""HRNetV2 (Wang et al. 2019): backbone widths and parameter counts, its head, round trips."""

import keras
import numpy as np
import pytest

import zoo

# Trainable parameters of timm 1.x's hrnet_w{18,32,48}(features_only=True,
# feature_location="") backbones, the authors' network without its classification
# increments; the paper's HRNetV2-W48 on Cityscapes (19 classes): 65.9M.
BACKBONE_PARAMS = {18: 9_562_260, 32: 29_305_536, 48: 65_325_120}


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("width", [18, pytest.param(32, marks=pytest.mark.slow),
                                   pytest.param(48, marks=pytest.mark.slow)])
def test_backbone_matches_the_reference_parameter_count_and_widths(width):
    model = zoo.hrnet((64, 64, 3), 19, encoder=f"hrnet_w{width}")
    encoder = model.get_layer("encoder")
    assert trainable(encoder) == BACKBONE_PARAMS[width]
    assert [o.shape[-1] for o in encoder.outputs] == [64, width, 2 * width, 4 * width,
                                                      8 * width]
    head = 15 * width  # the four branches concatenated: C + 2C + 4C + 8C
    assert trainable(model) == BACKBONE_PARAMS[width] + head * head + 2 * head + head * 19 + 19
    if width == 48:
        assert round(trainable(model) / 1e6, 1) == 65.9  # the paper's Cityscapes table


def test_head_fuses_all_four_resolutions_at_stride_4():
    model = zoo.hrnet((64, 64, 3), 5)
    assert model.get_layer("head_concat").output.shape == (None, 16, 16, 270)
    assert model.output_shape == (None, 64, 64, 5)
    assert {"head_upsample8", "head_upsample16", "head_upsample32"} <= {
        layer.name for layer in model.layers}


def test_hrnet_round_trips_with_identical_outputs(tmp_path):
    model = zoo.hrnet((None, None, 3), 4)
    x = np.random.default_rng(0).random((2, 64, 96, 3), "float32")
    out = model.predict(x, verbose=0)
    assert out.shape == (2, 64, 96, 4)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
    model.save(tmp_path / "hrnet.keras")
    loaded = keras.saving.load_model(tmp_path / "hrnet.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), out)


def test_hrnet_encoder_plugs_into_other_decoders_and_the_head_into_other_encoders():
    assert zoo.deeplabv3_plus((64, 64, 3), 3, encoder="hrnet_w18", output_stride=32,
                              aspp_filters=8, decoder_filters=8).output_shape == (None, 64, 64, 3)
    assert zoo.unet_plus_plus((64, 64, 1), 2, encoder="hrnet_w18").output_shape == (
        None, 64, 64, 2)
    assert zoo.hrnet((64, 64, 1), 2, encoder="resnet18").output_shape == (None, 64, 64, 2)


def test_hrnet_has_no_downloadable_imagenet_weights():
    with pytest.raises(ValueError, match="pass the path of a weights file"):
        zoo.hrnet((64, 64, 3), 2, encoder_weights="imagenet")
