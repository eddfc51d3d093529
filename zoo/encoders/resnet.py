"""ResNet-18 and ResNet-34 (He et al. 2016, Table 1), which keras.applications lacks.

Basic blocks, layers [2, 2, 2, 2] and [3, 4, 6, 3], the standard ImageNet
layout with symmetric padding (as torchvision, so converted weights line up).
Layer names follow keras.applications' ResNet50 (``conv1_relu``,
``conv3_block2_out``...). Constructors mirror keras.applications:
``ResNet18(include_top=False, weights=None, input_shape=(H, W, C))``.
"""

from __future__ import annotations

import keras
from keras import layers

from .base import check_zoo_backbone

BN_EPSILON = 1.001e-5


def _conv_bn(x, filters, kernel, stride, name, relu=True):
    pad = kernel // 2
    if pad:
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _basic_block(x, filters, stride, name):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_0", relu=False)
    y = _conv_bn(x, filters, 3, stride, f"{name}_1")
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _resnet(blocks, name, include_top, weights, input_shape):
    check_zoo_backbone(name, f"zoo.encoders.resnet.{name.capitalize().replace('net', 'Net')}",
                       include_top, weights)
    inputs = keras.Input(input_shape)
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (n_blocks, filters) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True)):
        for block in range(1, n_blocks + 1):
            stride = 2 if stage and block == 1 else 1
            x = _basic_block(x, filters, stride, f"conv{stage + 2}_block{block}")
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def ResNet18(include_top=False, weights=None, input_shape=(None, None, 3)):  # noqa: N802
    """ResNet-18 feature extractor: (B, H, W, C) -> (B, H/32, W/32, 512)."""
    return _resnet((2, 2, 2, 2), "resnet18", include_top, weights, input_shape)


def ResNet34(include_top=False, weights=None, input_shape=(None, None, 3)):  # noqa: N802
    """ResNet-34 feature extractor: (B, H, W, C) -> (B, H/32, W/32, 512)."""
    return _resnet((3, 4, 6, 3), "resnet34", include_top, weights, input_shape)
