"""HRNetV2 (Wang et al., TPAMI 2019, arXiv 1908.07919): W18, W32 and W48 backbones.

A stem of two 3x3 stride-2 convs (64 channels) and four stages that keep every
resolution they reach, in parallel: stage 1 is four bottleneck blocks at stride 4
(256 channels); stages 2, 3 and 4 add a branch at stride 8, 16 and 32 and hold 1, 4
and 3 modules of four basic blocks per branch, widths C, 2C, 4C, 8C (W18: C = 18).
Each module ends in a multi-resolution fusion: every branch receives the sum of all
branches brought to its resolution (1x1 conv + BN + bilinear up-sampling from lower
resolutions, chains of 3x3 stride-2 convs + BN from higher ones), then ReLU.

Layers follow the authors' code (HRNet/HRNet-Semantic-Segmentation, seg_hrnet.py)
and timm's ``hrnet_w*`` without its classification increments: BN epsilon 1e-5,
symmetric padding around the stride-2 convs, so converted weights line up; the
trainable parameter counts equal timm's ``features_only`` backbones (9,562,260,
29,305,536 and 65,325,120; tested). Outputs: the stem's stride-2 map (64 channels)
and the four branches after stage 4 (``stage4_out_{4,8,16,32}``). Constructors mirror
keras.applications: ``HRNetW18(include_top=False, weights=None, input_shape=(H, W, C))``.
"""

from __future__ import annotations

import keras
from keras import layers

from .base import check_zoo_backbone

BN_EPSILON = 1e-5
STAGES = ((1, 2), (4, 3), (3, 4))  # stages 2..4: (modules, branches)
BLOCKS = 4  # blocks per branch in every module; stage 1: bottlenecks


def _bn(x, name, relu=True):
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _conv(x, filters, kernel, name, *, stride=1, relu=True):
    """Conv (no bias) + BN [+ ReLU]; a 3x3 stride-2 conv pads 1 pixel on every side."""
    padding = "same"
    if stride > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False,
                      name=f"{name}_conv")(x)
    return _bn(x, name, relu)


def _bottleneck(x, planes, name):
    shortcut = x
    if x.shape[-1] != 4 * planes:
        shortcut = _conv(x, 4 * planes, 1, f"{name}_down", relu=False)
    y = _conv(x, planes, 1, f"{name}_1")
    y = _conv(y, planes, 3, f"{name}_2")
    y = _conv(y, 4 * planes, 1, f"{name}_3", relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _basic(x, filters, name):
    y = _conv(x, filters, 3, f"{name}_1")
    y = _conv(y, filters, 3, f"{name}_2", relu=False)
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _fuse(branches, widths, name):
    """Every branch i gets the sum of all branches brought to its resolution (Sec. 3)."""
    fused = []
    for i, width in enumerate(widths):
        terms = []
        for j, x in enumerate(branches):
            part = f"{name}_fuse{i}{j}"
            if j > i:
                x = _conv(x, width, 1, part, relu=False)
                x = layers.UpSampling2D(2 ** (j - i), interpolation="bilinear",
                                        name=f"{part}_up")(x)
            for k in range(i - j):  # j < i: down by stride-2 3x3 convs
                last = k == i - j - 1
                x = _conv(x, width if last else widths[j], 3, f"{part}_{k}", stride=2,
                          relu=not last)
            terms.append(x)
        x = terms[0] if len(terms) == 1 else layers.Add(name=f"{name}_fuse{i}_add")(terms)
        fused.append(layers.Activation("relu", name=f"{name}_fuse{i}_relu")(x))
    return fused


def _hrnet(width, name, include_top, weights, input_shape):
    check_zoo_backbone(name, f"zoo.encoders.hrnet.{name.replace('hrnet_w', 'HRNetW')}",
                       include_top, weights)
    widths = [width * 2**i for i in range(4)]
    inputs = keras.Input(input_shape)
    x = _conv(inputs, 64, 3, "stem1", stride=2)
    x = _conv(x, 64, 3, "stem2", stride=2)
    for block in range(BLOCKS):
        x = _bottleneck(x, 64, f"stage1_block{block + 1}")
    branches = [_conv(x, widths[0], 3, "transition1_0"),
                _conv(x, widths[1], 3, "transition1_1", stride=2)]
    for stage, (modules, count) in enumerate(STAGES, start=2):
        if len(branches) < count:  # a new, lower resolution from the lowest one
            branches.append(_conv(branches[-1], widths[count - 1], 3,
                                  f"transition{stage - 1}_{count - 1}", stride=2))
        for module in range(modules):
            prefix = f"stage{stage}_module{module + 1}"
            branches = [_chain(x, widths[b], f"{prefix}_branch{b}")
                        for b, x in enumerate(branches)]
            branches = _fuse(branches, widths[:count], prefix)
    outputs = [layers.Identity(name=f"stage4_out_{4 * 2**b}")(x) for b, x in enumerate(branches)]
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def _chain(x, filters, name):
    for block in range(BLOCKS):
        x = _basic(x, filters, f"{name}_block{block + 1}")
    return x


def HRNetW18(include_top=False, weights=None, input_shape=(None, None, 3)):  # noqa: N802
    """HRNetV2-W18 backbone: (B, H, W, C) -> 4 maps, (B, H/4, W/4, 18) ... (B, H/32, W/32, 144)."""
    return _hrnet(18, "hrnet_w18", include_top, weights, input_shape)


def HRNetW32(include_top=False, weights=None, input_shape=(None, None, 3)):  # noqa: N802
    """HRNetV2-W32 backbone: (B, H, W, C) -> 4 maps, (B, H/4, W/4, 32) ... (B, H/32, W/32, 256)."""
    return _hrnet(32, "hrnet_w32", include_top, weights, input_shape)


def HRNetW48(include_top=False, weights=None, input_shape=(None, None, 3)):  # noqa: N802
    """HRNetV2-W48 backbone: (B, H, W, C) -> 4 maps, (B, H/4, W/4, 48) ... (B, H/32, W/32, 384)."""
    return _hrnet(48, "hrnet_w48", include_top, weights, input_shape)
