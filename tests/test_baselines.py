"""FCN and DeepLabV3+: the papers' parameter counts, bilinear up-sampling, atrous encoders."""

import keras
import numpy as np
import pytest
from conftest import find_layer

import zoo
from zoo.blocks import BilinearUpsampling


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_fcn32s_vgg16_has_the_papers_134m_learned_parameters():
    # VGG-16 convs 14,714,688 + fc6 7*7*512*4096 + 4096 + fc7 4096*4096 + 4096
    # + score_fr 4096*21 + 21 (Long et al. 2015, Table 1: 134M); the final up-sampling is fixed.
    fcn32 = zoo.fcn((32, 32, 3), 21, variant="32s")
    assert _trainable(fcn32) == 14_714_688 + 102_764_544 + 16_781_312 + 86_037
    assert not fcn32.get_layer("upscore32").trainable
    fcn8 = zoo.fcn((32, 32, 3), 21)  # + score_pool4, score_pool3 and two learned 2x up-samplings
    assert _trainable(fcn8) - _trainable(fcn32) == (512 * 21 + 21) + (256 * 21 + 21) + 2 * 16 * 441


def test_fcn_skips_start_at_zero_so_8s_starts_as_up_sampled_32s():
    keras.utils.set_random_seed(1)
    model = zoo.fcn((64, 64, 1), 2, encoder="resnet18", fc_filters=8, activation=None)
    x = np.random.default_rng(0).random((1, 64, 64, 1), "float32")
    score = keras.Model(model.inputs, model.get_layer("score_fr").output).predict(x, verbose=0)
    bilinear = keras.layers.UpSampling2D(32, interpolation="bilinear")(score)
    out = model.predict(x, verbose=0)
    inner = slice(32, -32)  # the transposed conv zero-pads where UpSampling2D clamps
    np.testing.assert_allclose(out[:, inner, inner], np.asarray(bilinear)[:, inner, inner],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("factor", [2, 8])
def test_bilinear_transposed_conv_matches_bilinear_up_sampling_inside(factor):
    x = np.random.default_rng(factor).random((1, 6, 6, 3), "float32")
    up = keras.layers.Conv2DTranspose(3, 2 * factor, strides=factor, padding="same",
                                      use_bias=False, kernel_initializer=BilinearUpsampling())
    expected = keras.layers.UpSampling2D(factor, interpolation="bilinear")(x)
    inner = slice(factor, -factor)
    np.testing.assert_allclose(np.asarray(up(x))[:, inner, inner],
                               np.asarray(expected)[:, inner, inner], atol=1e-6)
    with pytest.raises(ValueError, match="\\(2f, 2f, C, C\\)"):
        BilinearUpsampling()((4, 4, 3, 2))


def test_fcn_variant_and_depth_are_checked():
    with pytest.raises(ValueError, match="variant must be one of"):
        zoo.fcn((32, 32, 1), encoder="resnet18", variant="4s")
    with pytest.raises(ValueError, match="use a deeper encoder"):
        zoo.fcn((8, 8, 1), encoder="plain", depth=2, encoder_options={"filters": 2},
                fc_filters=2)


def test_deeplabv3_plus_resnet101_matches_the_papers_layer_list():
    # ASPP (Sec. 3.1): 1x1 + three 3x3 atrous + image pooling, 256 each, BN (4 values per
    # channel in Keras) and a 1x1 projection of 5 x 256; decoder (Sec. 3.2): the stride-4
    # map (256 channels) to 48, two 3x3 convs of 256, the 1x1 class conv with bias.
    deep, low, bn, k = 2048, 256, 4, 21
    aspp = 2 * (deep * 256 + bn * 256) + 3 * (9 * deep * 256 + bn * 256) + 1280 * 256 + bn * 256
    decoder = (low * 48 + bn * 48) + (9 * 304 * 256 + bn * 256) + (9 * 256 * 256 + bn * 256)
    resnet101 = keras.applications.ResNet101(include_top=False, weights=None,
                                             input_shape=(64, 64, 3)).count_params()
    model = zoo.deeplabv3_plus((64, 64, 3), k)
    preprocess = 3 * 3 + 3
    assert model.count_params() == resnet101 + preprocess + aspp + decoder + 256 * k + k


@pytest.mark.parametrize("output_stride,rates", [(16, (6, 12, 18)), (8, (12, 24, 36))])
def test_output_stride_dilates_the_resnet_and_scales_the_rates(output_stride, rates):
    model = zoo.deeplabv3_plus((64, 64, 1), encoder="resnet18", output_stride=output_stride,
                               aspp_filters=8, decoder_filters=8)
    encoder = model.get_layer("encoder")
    assert encoder.outputs[-1].shape[1:3] == (64 // output_stride, 64 // output_stride)
    assert find_layer(model, "conv5_block2_1_conv").dilation_rate == (32 // output_stride,) * 2
    assert find_layer(model, "conv5_block1_1_pad").padding == ((32 // output_stride,) * 2,) * 2
    assert [model.get_layer(f"aspp_rate{r}_conv1").dilation_rate for r in rates] == [
        (r, r) for r in rates]


def test_dilation_keeps_the_pretrained_weights(tmp_path):
    backbone = zoo.encoders.resnet.ResNet18(input_shape=(None, None, 3))
    rng = np.random.default_rng(0)
    backbone.set_weights([rng.standard_normal(w.shape).astype("float32")
                          for w in backbone.get_weights()])
    backbone.save_weights(tmp_path / "r18.weights.h5")
    model = zoo.deeplabv3_plus((64, 64, 3), encoder="resnet18",
                               encoder_weights=str(tmp_path / "r18.weights.h5"))
    for got, want in zip(model.get_layer("encoder").get_weights(), backbone.get_weights(),
                         strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_plain_encoder_dilates_instead_of_pooling():
    model = zoo.deeplabv3_plus((32, 32, 1), encoder="plain", depth=4, output_stride=8,
                               encoder_options={"filters": 2}, aspp_filters=4)
    names = {layer.name for layer in model.get_layer("encoder").layers}
    assert "encoder_stage4_pool" in names and "encoder_stage5_pool" not in names
    assert find_layer(model, "encoder_stage5_conv1").dilation_rate == (2, 2)


def test_encoders_that_cannot_dilate_name_the_fix():
    with pytest.raises(ValueError, match="cannot dilate.*resnet18.*output_stride=32"):
        zoo.deeplabv3_plus((64, 64, 1), encoder="efficientnetb0")
    model = zoo.deeplabv3_plus((64, 64, 1), encoder="mobilenetv3small", output_stride=32,
                               aspp_filters=4, decoder_filters=4)
    assert model.get_layer("aspp_rate3_conv1").dilation_rate == (3, 3)
