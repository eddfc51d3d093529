"""Pretrainable backbones (keras.applications, plus the zoo's ResNet-18/34) as encoders.

Each backbone becomes a nested functional sub-model named ``encoder`` that
returns its feature maps at strides 2..32 (1..32 for VGG), preceded by the
fixed input normalisation of :mod:`zoo.encoders.preprocessing`. Feature layer
names come from ``../shared/REFERENCE.md`` and are checked by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras

from ..registry import ENCODERS
from . import resnet
from .base import EncoderFeatures, EncoderSpec
from .preprocessing import MODES, preprocess

A = keras.applications


@dataclass(frozen=True)
class Backbone:
    constructor: Any
    layers: dict[int, str]  # stride -> feature layer name
    channels: tuple[int, ...]
    mode: str
    kwargs: dict = field(default_factory=dict)


def _resnet_v1(deep3, deep4):
    return {2: "conv1_relu", 4: "conv2_block3_out", 8: f"conv3_block{deep3}_out",
            16: f"conv4_block{deep4}_out", 32: "conv5_block3_out"}


def _resnet_v2(deep3, deep4):
    return {2: "conv1_conv", 4: "conv2_block3_1_relu", 8: f"conv3_block{deep3}_1_relu",
            16: f"conv4_block{deep4}_1_relu", 32: "post_relu"}


def _resnet_small(blocks):
    return {2: "conv1_relu", **{2 ** (i + 2): f"conv{i + 2}_block{n}_out"
                                for i, n in enumerate(blocks)}}


EFFICIENTNET = {2: "block2a_expand_activation", 4: "block3a_expand_activation",
                8: "block4a_expand_activation", 16: "block6a_expand_activation",
                32: "top_activation"}


def _efficientnet(constructor, *channels):
    return Backbone(constructor, EFFICIENTNET, channels, "raw255")


def _efficientnet_v2(s2, s4):
    return {2: s2, 4: s4, 8: "block4a_expand_activation", 16: "block6a_expand_activation",
            32: "top_activation"}


def _vgg(last):
    return {1: "block1_conv2", 2: "block2_conv2", 4: f"block3_conv{last}",
            8: f"block4_conv{last}", 16: f"block5_conv{last}", 32: "block5_pool"}


NO_PREPROCESSING = {"include_preprocessing": False}
BACKBONES = {
    "resnet18": Backbone(resnet.ResNet18, _resnet_small((2, 2, 2, 2)),
                         (64, 64, 128, 256, 512), "torch"),
    "resnet34": Backbone(resnet.ResNet34, _resnet_small((3, 4, 6, 3)),
                         (64, 64, 128, 256, 512), "torch"),
    "resnet50": Backbone(A.ResNet50, _resnet_v1(4, 6), (64, 256, 512, 1024, 2048), "caffe"),
    "resnet101": Backbone(A.ResNet101, _resnet_v1(4, 23), (64, 256, 512, 1024, 2048), "caffe"),
    "resnet152": Backbone(A.ResNet152, _resnet_v1(8, 36), (64, 256, 512, 1024, 2048), "caffe"),
    "resnet50v2": Backbone(A.ResNet50V2, _resnet_v2(4, 6), (64, 64, 128, 256, 2048), "tf"),
    "resnet101v2": Backbone(A.ResNet101V2, _resnet_v2(4, 23), (64, 64, 128, 256, 2048), "tf"),
    "resnet152v2": Backbone(A.ResNet152V2, _resnet_v2(8, 36), (64, 64, 128, 256, 2048), "tf"),
    "efficientnetb0": _efficientnet(A.EfficientNetB0, 96, 144, 240, 672, 1280),
    "efficientnetb1": _efficientnet(A.EfficientNetB1, 96, 144, 240, 672, 1280),
    "efficientnetb2": _efficientnet(A.EfficientNetB2, 96, 144, 288, 720, 1408),
    "efficientnetb3": _efficientnet(A.EfficientNetB3, 144, 192, 288, 816, 1536),
    "efficientnetb4": _efficientnet(A.EfficientNetB4, 144, 192, 336, 960, 1792),
    "efficientnetb5": _efficientnet(A.EfficientNetB5, 144, 240, 384, 1056, 2048),
    "efficientnetb6": _efficientnet(A.EfficientNetB6, 192, 240, 432, 1200, 2304),
    "efficientnetb7": _efficientnet(A.EfficientNetB7, 192, 288, 480, 1344, 2560),
    "efficientnetv2b0": Backbone(A.EfficientNetV2B0,
                                 _efficientnet_v2("block1a_project_activation", "block2b_add"),
                                 (16, 32, 192, 672, 1280), "torch", NO_PREPROCESSING),
    "efficientnetv2b1": Backbone(A.EfficientNetV2B1, _efficientnet_v2("block1b_add", "block2c_add"),
                                 (16, 32, 192, 672, 1280), "torch", NO_PREPROCESSING),
    "efficientnetv2b2": Backbone(A.EfficientNetV2B2, _efficientnet_v2("block1b_add", "block2c_add"),
                                 (16, 32, 224, 720, 1408), "torch", NO_PREPROCESSING),
    "efficientnetv2b3": Backbone(A.EfficientNetV2B3, _efficientnet_v2("block1b_add", "block2c_add"),
                                 (16, 40, 224, 816, 1536), "torch", NO_PREPROCESSING),
    "efficientnetv2s": Backbone(A.EfficientNetV2S, _efficientnet_v2("block1b_add", "block2d_add"),
                                (24, 48, 256, 960, 1280), "tf", NO_PREPROCESSING),
    "vgg16": Backbone(A.VGG16, _vgg(3), (64, 128, 256, 512, 512, 512), "caffe"),
    "vgg19": Backbone(A.VGG19, _vgg(4), (64, 128, 256, 512, 512, 512), "caffe"),
}


MIN_CONCRETE_SIDE = 32


def build_backbone_encoder(inputs, *, depth: int, padding: str, weights: str | None,
                           backbone: Backbone) -> EncoderFeatures:
    """(B, H, W, C) in [0, 1] -> features at strides up to 2**depth from a nested ``encoder``.

    ``weights``: ``None`` (random init, native C-channel stem), ``"imagenet"``
    (downloaded by keras.applications) or a local weights file of the
    3-channel backbone (the offline Kaggle workflow). Pretrained weights with
    C != 3 keep the RGB stem and adapt the input (see ``preprocessing``).
    """
    x = preprocess(inputs, backbone.mode, to_rgb=weights is not None)
    # Concrete sides when the model has them, so the nested layers know their shapes
    # (zoo.count_flops needs them); keras.applications refuses concrete sides below 32.
    sides = tuple(x.shape[1:3])
    if any(side is None or side < MIN_CONCRETE_SIDE for side in sides):
        sides = (None, None)
    model = backbone.constructor(include_top=False, weights=weights,
                                 input_shape=(*sides, int(x.shape[-1])), **backbone.kwargs)
    strides = [s for s in sorted(backbone.layers) if s <= 2**depth]
    encoder = keras.Model(model.inputs, [model.get_layer(backbone.layers[s]).output
                                         for s in strides], name="encoder")
    return EncoderFeatures(dict(zip(strides, encoder(x), strict=True)), input_range=(0.0, 1.0))


def _spec(name: str, backbone: Backbone) -> EncoderSpec:
    strides = sorted(backbone.layers)
    return EncoderSpec(
        name=name,
        build=lambda inputs, **kw: build_backbone_encoder(inputs, backbone=backbone, **kw),
        default_depth=5,
        depths=(3, 4, 5),
        channels=dict(zip(strides, backbone.channels, strict=True)),
        input_range=(0.0, 1.0),
        description=f"backbone expects {MODES[backbone.mode][0]}",
    )


for _name, _backbone in BACKBONES.items():
    ENCODERS.add(_name, _spec(_name, _backbone))
