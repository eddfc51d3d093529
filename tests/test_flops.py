"""The FLOP counter against hand-computed models."""

import keras
import pytest
from keras import layers

import zoo
from zoo.blocks import UpsampleConv2D


def test_hand_computed_model():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inputs)  # 2*9*3*4 * 64 positions
    x = layers.Conv2D(6, 1, strides=2)(x)  # 2*1*4*6 * 16 positions
    x = layers.Conv2DTranspose(2, 2, strides=2)(x)  # 2*4*6*2 * 16 input positions
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)  # 2*9*2*2 * 64
    x = layers.SeparableConv2D(5, 3, padding="same")(x)  # 2*64*(9*4 + 4*5)
    x = layers.BatchNormalization()(x)  # not counted
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(7)(x)  # 2*5*7
    model = keras.Model(inputs, outputs)
    expected = (2 * 9 * 3 * 4 * 64 + 2 * 4 * 6 * 16 + 2 * 4 * 6 * 2 * 16 + 2 * 9 * 2 * 2 * 64
                + 2 * 64 * (9 * 4 + 4 * 5) + 2 * 5 * 7)
    assert zoo.count_flops(model) == expected


def test_nested_models_and_fused_upsampling_count_as_the_network_they_define():
    inner_in = keras.Input((4, 4, 2))
    inner = keras.Model(inner_in, layers.Conv2D(3, 3, padding="same")(inner_in))
    inputs = keras.Input((4, 4, 2))
    x = inner(inputs)  # 2*9*2*3 * 16
    x = UpsampleConv2D(5, factor=2)(x)  # as Conv2D(5, 3) at 8x8: 2*9*3*5 * 64
    model = keras.Model(inputs, x)
    assert zoo.count_flops(model) == 2 * 9 * 2 * 3 * 16 + 2 * 9 * 3 * 5 * 64


def test_reference_networks():
    # The paper's U-Net++ at 256^2 RGB: 59.6 GFLOP (../shared/REFERENCE.md); encoder
    # backbones are nested models with concrete shapes.
    model = zoo.unet_plus_plus((256, 256, 3), 1, encoder_options={"filters": 32})
    assert zoo.count_flops(model) / 1e9 == pytest.approx(59.6, abs=0.05)
    small = zoo.unet((64, 64, 1), 1, encoder="resnet18")
    assert zoo.count_flops(small) > 0


def test_unknown_sizes_are_an_error_naming_the_fix():
    with pytest.raises(ValueError, match="concrete input shape"):
        zoo.count_flops(zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4}))
