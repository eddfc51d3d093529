"""FCN (Long, Shelhamer, Darrell, CVPR 2015; PAMI 2017, arXiv 1605.06211) with any encoder."""

from __future__ import annotations

import math

from keras import layers

from ..blocks import BilinearUpsampling, conv_block
from .base import Architecture, Head, register_architecture

VARIANTS = {"32s": 0, "16s": 1, "8s": 2}  # skips fused


def _pool(features: dict, stride: int, name: str):
    """The paper's ``pool{k}`` map at ``stride``: for conv-then-pool encoders (VGG, plain:
    they have stride-1 maps, and the map at a stride is the last conv before its
    pool) the max-pooled map of the previous stride, as VGG's pool3 / pool4; for
    the others (ResNet ...) the stage output at that stride."""
    if 1 in features and stride > 1:
        return layers.MaxPooling2D(2, name=f"{name}_maxpool")(features[stride // 2])
    return features[stride]


def _upscore(x, factor: int, name: str, *, trainable: bool = True):
    """x``factor`` transposed conv initialised to bilinear interpolation, no bias (Sec. 3.3)."""
    return layers.Conv2DTranspose(
        int(x.shape[-1]), 2 * factor, strides=factor, padding="same", use_bias=False,
        kernel_initializer=BilinearUpsampling(), trainable=trainable, dtype="float32",
        name=name)(x)


def fcn_decoder(features: dict[int, object], *, num_classes: int, variant: str = "8s",
                fc_filters: int = 4096, fc_dropout: float = 0.5,
                batch_norm: bool = False) -> object:
    """(B, H/S, W/S, C) deepest map -> (B, H, W, num_classes) class scores, float32.

    ``fc6`` (7x7 conv, the classifier's first fully connected layer as a
    convolution) and ``fc7`` (1x1), each ReLU + dropout, then ``score_fr`` (1x1
    to the classes). ``16s`` and ``8s`` fuse, one stride at a time, the 2x
    up-sampled score with a zero-initialised 1x1 score of the pooled map at that
    stride (``score_pool4``, ``score_pool3``: the skip layers of Sec. 4.2); the
    last up-sampling returns to the input's size. Intermediate up-samplings are
    initialised to bilinear and learned; the final one is fixed to bilinear
    (Sec. 4.2). Score layers compute in float32. ``batch_norm`` (not in the
    paper) puts BN between fc6 / fc7 and their ReLU.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    stride = max(features)
    if VARIANTS[variant] >= math.log2(stride):
        raise ValueError(f"FCN-{variant} fuses {VARIANTS[variant]} skips but the encoder's "
                         f"deepest map is at stride {stride}; use a deeper encoder")
    x = features[stride]
    for name, kernel in (("fc6", 7), ("fc7", 1)):
        x = conv_block(x, fc_filters, kernel_size=kernel, convs=1, batch_norm=batch_norm,
                       name=name)
        x = layers.Dropout(fc_dropout, name=f"{name}_dropout")(x)
    score = layers.Conv2D(num_classes, 1, dtype="float32", name="score_fr")(x)
    for _ in range(VARIANTS[variant]):
        stride //= 2
        level = int(math.log2(stride))
        up = _upscore(score, 2, f"upscore_pool{level + 1}")
        pooled = _pool(features, stride, f"pool{level}")
        side = layers.Conv2D(num_classes, 1, kernel_initializer="zeros", dtype="float32",
                             name=f"score_pool{level}")(pooled)
        score = layers.Add(dtype="float32", name=f"fuse_pool{level}")([up, side])
    return _upscore(score, stride, f"upscore{stride}", trainable=False)


def _decoder(features, *, num_classes: int, padding: str, batch_norm: bool,
             **options) -> list[Head]:
    return [Head(fcn_decoder(features, num_classes=num_classes, batch_norm=batch_norm,
                             **options), "head")]


fcn = register_architecture(
    Architecture("fcn", _decoder, {"variant": "8s", "fc_filters": 4096, "fc_dropout": 0.5},
                 encoder="vgg16", logits=True),
    "fcn8s", doc="""
    Build an FCN: image (B, H, W, C) -> (B, H, W, num_classes), float32, same padding.

    Long, Shelhamer, Darrell, CVPR 2015 / PAMI 2017 (arXiv 1605.06211), on
    VGG-16 by default as in the paper. ``variant``: ``"32s"`` (the stride-32
    score up-sampled 32x), ``"16s"`` (+ the pool4 skip) or ``"8s"`` (+ pool3,
    the paper's best and the default); with another depth the names mean 0, 1
    or 2 fused skips. At 21 classes on VGG-16 the learned layers hold
    134,346,581 parameters for FCN-32s (14,714,688 VGG-16 convs + fc6
    7*7*512*4096 + 4096 + fc7 4096*4096 + 4096 + score_fr 4096*21 + 21: the
    paper's "134M", Table 1); FCN-8s adds the two skip scores (16,170) and the
    two learned 2x up-samplings (2 * 4*4*21*21). The Caffe code's 100-px input
    padding is not needed with same-padded convolutions. Any encoder works: the
    skips read the encoder's map at stride 16 and 8 (pooled for VGG / plain,
    :func:`_pool`).

    Decoder options:
        variant: ``"32s"``, ``"16s"`` or ``"8s"``.
        fc_filters: width of fc6 / fc7 (4096 in the paper; much smaller widths
            suit small data sets and CPUs).
        fc_dropout: dropout after fc6 and fc7 (0.5, as VGG's classifier).

    ``batch_norm=True`` (not the paper's; off by default) adds BN to fc6 / fc7.
    """)
