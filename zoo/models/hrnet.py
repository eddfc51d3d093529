"""HRNetV2's segmentation head (Wang et al., TPAMI 2019, arXiv 1908.07919, Sec. 3 and
Fig. 4b) on any encoder, HRNetV2-W18 by default."""

from __future__ import annotations

from keras import layers

from ..blocks import conv_block
from .base import Architecture, Head, register_architecture

HEAD_STRIDE = 4


def hrnet_decoder(features: dict[int, object], *, batch_norm: bool = True):
    """Encoder maps at strides 4..S -> (B, H/4, W/4, sum of their channels).

    Every map at stride 8 and deeper is up-sampled bilinearly to stride 4 and
    concatenated with the stride-4 map, then mixed by a 1x1 conv + BN + ReLU of
    the same width (15C channels on HRNet-WC: 270 for W18, 720 for W48).
    """
    strides = sorted(s for s in features if s >= HEAD_STRIDE)
    if not strides or strides[0] != HEAD_STRIDE:
        raise ValueError(f"the HRNetV2 head needs an encoder map at stride {HEAD_STRIDE}; "
                         f"this encoder gives strides {sorted(features)}")
    maps = [features[HEAD_STRIDE]] + [
        layers.UpSampling2D(s // HEAD_STRIDE, interpolation="bilinear",
                            name=f"head_upsample{s}")(features[s]) for s in strides[1:]]
    x = layers.Concatenate(name="head_concat")(maps)
    return conv_block(x, int(x.shape[-1]), kernel_size=1, convs=1, batch_norm=batch_norm,
                      name="head_mix")


def _decoder(features, *, padding: str, batch_norm: bool) -> list[Head]:
    return [Head(hrnet_decoder(features, batch_norm=batch_norm), "head", stride=HEAD_STRIDE)]


hrnet = register_architecture(
    Architecture("hrnet", _decoder, {}, batch_norm=True, encoder="hrnet_w18"),
    "hrnetv2", doc="""
    Build an HRNetV2: image (B, H, W, C) -> (B, H, W, num_classes), float32, same padding.

    Wang et al., TPAMI 2019 (arXiv 1908.07919), on its own backbone by default
    (``encoder="hrnet_w18"``; also ``hrnet_w32`` and ``hrnet_w48``,
    :mod:`zoo.encoders.hrnet`). The head concatenates all four resolutions
    up-sampled bilinearly to stride 4, mixes them by a 1x1 conv + BN + ReLU
    (15C channels) and a 1x1 class conv, whose logits are up-sampled 4x
    bilinearly to the input (the authors' code computes the loss there too).
    At 19 classes HRNetV2-W48 holds 65,858,659 trainable parameters (the paper's
    Cityscapes table: 65.9M); the authors' mixing conv also has a bias before its
    BN (720 more). Any encoder with a stride-4 map works: the head then fuses
    that encoder's maps at strides 4..32.

    Decoder options: none (``batch_norm`` is the model option).
    """)
