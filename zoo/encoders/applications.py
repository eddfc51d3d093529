"""Pretrainable backbones (keras.applications, plus the zoo's ResNet-18/34 and HRNetV2) as
encoders.

Each backbone becomes a nested functional sub-model named ``encoder`` that
returns its feature maps at strides 2..32 (1..32 for VGG, 4..32 for ConvNeXt,
whose stem is a 4x4 stride-4 conv), preceded by the fixed input normalisation of
:mod:`zoo.encoders.preprocessing`. A feature is the output of a named layer, or
(:class:`After`) of the layer that consumes it, for backbones whose activations
keras names by a global counter (MobileNetV3), or (:class:`Before`) the input of
a named layer, where the map is an unnamed residual sum (ConvNeXt). Layer names were
read off the built models (the last map at each stride) and the tests check every
stride and channel count. Every backbone in this table halves its sides exactly for
sides divisible by 32 (the stems pad before their strided convs), so none needs extra
padding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
from keras import layers

from ..registry import ENCODERS
from . import hrnet, resnet
from .base import EncoderFeatures, EncoderSpec
from .preprocessing import MODES, preprocess

A = keras.applications


class After(str):
    """A feature read from the layer that consumes the named layer's output."""


class Before(str):
    """A feature read from the named layer's input."""


@dataclass(frozen=True)
class Backbone:
    constructor: Any
    # stride -> feature: a layer name, After(name), Before(name) or None (the
    # backbone's own include_top=False output)
    layers: dict[int, str | None]
    channels: tuple[int, ...]
    mode: str
    kwargs: dict = field(default_factory=dict)
    # stride -> name prefix of the stage whose layers reach it (None: cannot dilate)
    stages: dict[int, str] | None = None


def _resnet_v1(deep3, deep4):
    return {2: "conv1_relu", 4: "conv2_block3_out", 8: f"conv3_block{deep3}_out",
            16: f"conv4_block{deep4}_out", 32: "conv5_block3_out"}


RESNET_STAGES = {8: "conv3_", 16: "conv4_", 32: "conv5_"}  # stride-2 in each stage's block 1


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


def _hrnet(width, constructor):
    """The stem's stride-2 map and the four branches after stage 4."""
    return Backbone(constructor, {2: "stem1_relu", **{2**i: f"stage4_out_{2**i}"
                                                      for i in range(2, 6)}},
                    (64, width, 2 * width, 4 * width, 8 * width), "torch")


def _vgg(last):
    return {1: "block1_conv2", 2: "block2_conv2", 4: f"block3_conv{last}",
            8: f"block4_conv{last}", 16: f"block5_conv{last}", 32: "block5_pool"}


def _mobilenet_v3(*expand_blocks):
    """Expansion activations before each stride-2 block (the MobileNetV2 convention)."""
    first, *rest = expand_blocks
    return {2: After(first), **{2 ** (i + 2): After(f"expanded_conv_{n}_expand_bn")
                                for i, n in enumerate(rest)}, 32: None}


DENSENET = {2: "conv1_relu", 4: "pool2_conv", 8: "pool3_conv", 16: "pool4_conv", 32: "relu"}


def _convnext(name):
    """Stage outputs (the residual sums entering each down-sampling); stride 32 is keras'
    include_top=False output, after the final layer norm."""
    return {**{2 ** (i + 2): Before(f"{name}_downsampling_block_{i}") for i in range(3)},
            32: None}


NO_PREPROCESSING = {"include_preprocessing": False}
BACKBONES = {
    "resnet18": Backbone(resnet.ResNet18, _resnet_small((2, 2, 2, 2)),
                         (64, 64, 128, 256, 512), "torch",
                         stages=RESNET_STAGES),
    "resnet34": Backbone(resnet.ResNet34, _resnet_small((3, 4, 6, 3)),
                         (64, 64, 128, 256, 512), "torch",
                         stages=RESNET_STAGES),
    "resnet50": Backbone(A.ResNet50, _resnet_v1(4, 6), (64, 256, 512, 1024, 2048), "caffe",
                          stages=RESNET_STAGES),
    "resnet101": Backbone(A.ResNet101, _resnet_v1(4, 23), (64, 256, 512, 1024, 2048), "caffe",
                          stages=RESNET_STAGES),
    "resnet152": Backbone(A.ResNet152, _resnet_v1(8, 36), (64, 256, 512, 1024, 2048), "caffe",
                          stages=RESNET_STAGES),
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
    "mobilenetv2": Backbone(A.MobileNetV2, {2: "block_1_expand_relu", 4: "block_3_expand_relu",
                                            8: "block_6_expand_relu", 16: "block_13_expand_relu",
                                            32: "out_relu"}, (96, 144, 192, 576, 1280), "tf"),
    "mobilenetv3small": Backbone(A.MobileNetV3Small, _mobilenet_v3("conv_bn", 1, 3, 8),
                                 (16, 72, 96, 288, 576), "tf", NO_PREPROCESSING),
    "mobilenetv3large": Backbone(A.MobileNetV3Large,
                                 _mobilenet_v3("expanded_conv_1_expand_bn", 3, 6, 12),
                                 (64, 72, 240, 672, 960), "tf", NO_PREPROCESSING),
    "densenet121": Backbone(A.DenseNet121, DENSENET, (64, 128, 256, 512, 1024), "torch"),
    "densenet169": Backbone(A.DenseNet169, DENSENET, (64, 128, 256, 640, 1664), "torch"),
    "densenet201": Backbone(A.DenseNet201, DENSENET, (64, 128, 256, 896, 1920), "torch"),
    "convnext_tiny": Backbone(A.ConvNeXtTiny, _convnext("convnext_tiny"),
                              (96, 192, 384, 768), "torch", NO_PREPROCESSING),
    "convnext_small": Backbone(A.ConvNeXtSmall, _convnext("convnext_small"),
                               (96, 192, 384, 768), "torch", NO_PREPROCESSING),
    "convnext_base": Backbone(A.ConvNeXtBase, _convnext("convnext_base"),
                              (128, 256, 512, 1024), "torch", NO_PREPROCESSING),
    "hrnet_w18": _hrnet(18, hrnet.HRNetW18),
    "hrnet_w32": _hrnet(32, hrnet.HRNetW32),
    "hrnet_w48": _hrnet(48, hrnet.HRNetW48),
    "vgg16": Backbone(A.VGG16, _vgg(3), (64, 128, 256, 512, 512, 512), "caffe"),
    "vgg19": Backbone(A.VGG19, _vgg(4), (64, 128, 256, 512, 512, 512), "caffe"),
}


MIN_CONCRETE_SIDE = 32


def build_backbone_encoder(inputs, *, depth: int, padding: str, weights: str | None,
                           backbone: Backbone,
                           output_stride: int | None = None) -> EncoderFeatures:
    """(B, H, W, C) in [0, 1] -> features at strides up to 2**depth from a nested ``encoder``.

    ``weights``: ``None`` (random init, native C-channel stem), ``"imagenet"``
    (downloaded by keras.applications) or a local weights file of the
    3-channel backbone (the offline Kaggle workflow). Pretrained weights with
    C != 3 keep the RGB stem and adapt the input (see ``preprocessing``).
    ``output_stride``: dilate the stages deeper than it (:func:`_dilate`).
    """
    x = preprocess(inputs, backbone.mode, to_rgb=weights is not None)
    # Concrete sides when the model has them, so the nested layers know their shapes
    # (zoo.count_flops needs them); keras.applications refuses concrete sides below 32.
    sides = tuple(x.shape[1:3])
    if any(side is None or side < MIN_CONCRETE_SIDE for side in sides):
        sides = (None, None)
    model = backbone.constructor(include_top=False, weights=weights,
                                 input_shape=(*sides, int(x.shape[-1])), **backbone.kwargs)
    if output_stride is not None:
        model = _dilate(model, backbone.stages, output_stride)
    strides = [s for s in sorted(backbone.layers) if s <= 2**depth]
    encoder = keras.Model(model.inputs, [_feature(model, backbone.layers[s]) for s in strides],
                          name="encoder")
    return EncoderFeatures(dict(zip(strides, encoder(x), strict=True)), input_range=(0.0, 1.0))


def _dilate(model: keras.Model, stages: dict[int, str], output_stride: int) -> keras.Model:
    """The backbone with its stages deeper than ``output_stride`` atrous (DeepLab).

    Each such stage reaching stride s loses its stride 2 and every k x k conv of
    it (k > 1) gets dilation rate s / output_stride, explicit zero padding scaled
    to match (DeepLab v2's ResNet res5; Chen et al. 2018, Sec. 3.1). Same
    weights, same parameter count.
    """
    rates = {prefix: stride // output_stride for stride, prefix in stages.items()
             if stride > output_stride}

    def clone(layer):
        rate = next((r for prefix, r in rates.items() if layer.name.startswith(prefix)), 1)
        config = layer.get_config()
        if rate > 1 and isinstance(layer, layers.Conv2D):
            config["strides"] = (1, 1)
            if max(config["kernel_size"]) > 1:
                config["dilation_rate"] = (rate, rate)
        elif rate > 1 and isinstance(layer, layers.ZeroPadding2D):
            config["padding"] = tuple(tuple(p * rate for p in side) for side in config["padding"])
        return layer.__class__.from_config(config)

    dilated = keras.models.clone_model(model, clone_function=clone)
    dilated.set_weights(model.get_weights())
    return dilated


def _feature(model: keras.Model, name: str | None):
    if name is None:
        return model.output
    if isinstance(name, Before):
        return model.get_layer(name).input
    output = model.get_layer(name).output
    if not isinstance(name, After):
        return output
    for layer in model.layers:
        if layer.input is output:
            return layer.output
    raise ValueError(f"no layer of {model.name} consumes {name!r}")


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
        output_strides=(8, 16) if backbone.stages else (),
    )


for _name, _backbone in BACKBONES.items():
    ENCODERS.add(_name, _spec(_name, _backbone))
