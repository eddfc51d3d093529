"""The U-Net (Ronneberger, Fischer, Brox, MICCAI 2015, arXiv 1505.04597) with any encoder."""

from __future__ import annotations

from collections.abc import Sequence

from keras import layers

from ..blocks import center_crop_to, conv_block, up_conv
from .base import Architecture, Head, default_decoder_width, register_architecture


def unet_decoder(features: dict[int, object], *, decoder_filters: Sequence[int] | None = None,
                 padding: str = "same", batch_norm: bool = False):
    """The expanding path: (B, H/S, W/S, C) bottleneck -> (B, H', W', decoder_filters[-1]).

    From the bottleneck stride S down to stride 1, each stage does a 2x2
    up-convolution, concatenates the (centre-cropped) encoder map of that
    stride when the encoder has one, then two 3x3 convs (Sec. 2). Stage
    widths default to :func:`default_decoder_width`.
    """
    strides = sorted(features, reverse=True)
    x = features[strides[0]]
    levels = []
    stride = strides[0] // 2
    while stride >= 1:
        levels.append(stride)
        stride //= 2
    filters = list(decoder_filters) if decoder_filters is not None else [
        default_decoder_width(features, stride) for stride in levels]
    if len(filters) != len(levels):
        raise ValueError(
            f"decoder_filters needs {len(levels)} values (one per stride {levels}), got {filters}"
        )
    for i, (stride, width) in enumerate(zip(levels, filters, strict=True), start=1):
        name = f"decoder_stage{i}"
        x = up_conv(x, width, name=name)
        if stride in features:
            skip = center_crop_to(features[stride], x, name=name)
            x = layers.Concatenate(name=f"{name}_concat")([skip, x])
        x = conv_block(x, width, name=name, padding=padding, batch_norm=batch_norm)
    return x


def _decoder(features, *, padding: str, batch_norm: bool, decoder_filters=None) -> list[Head]:
    return [Head(unet_decoder(features, decoder_filters=decoder_filters, padding=padding,
                              batch_norm=batch_norm), "head")]


unet = register_architecture(
    Architecture("unet", _decoder, {"decoder_filters": None}, paddings=("same", "valid"),
                 dropout=0.5),
    "u-net", "u_net", doc="""
    Build a U-Net: image (B, H, W, C) -> class map (B, H', W', num_classes), float32.

    Ronneberger, Fischer, Brox, MICCAI 2015 (arXiv 1505.04597). ``padding="valid"``
    with the plain encoder reproduces the paper exactly: 572x572x1 -> 388x388x2,
    23 conv layers, centre-cropped skips, 2x2 up-convolutions, Dropout(0.5) on
    the deepest map ("drop-out layers at the end of the contracting path",
    Sec. 3.1), He-normal init (Sec. 3) and 31,030,658 parameters. Legal sizes
    are 188 + 16k (see :func:`zoo.unet_output_size`). ``padding="same"``
    (default) keeps H' = H, W' = W; sides must be divisible by 2**depth or
    ``None`` (or ``input_size="any"``).

    Decoder options:
        decoder_filters: one width per decoder stage, deepest first (default:
            :func:`zoo.models.base.default_decoder_width`).
    """)
