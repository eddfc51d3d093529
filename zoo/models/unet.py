"""The U-Net (Ronneberger, Fischer, Brox, MICCAI 2015, arXiv 1505.04597) with any encoder."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..blocks import center_crop_to, conv_block, segmentation_head, up_conv
from ..registry import MODELS
from .base import default_decoder_width, encoder_inputs, finish_model


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


@MODELS.register("unet", "u-net", "u_net")
def unet(input_shape: Sequence[int | None] = (None, None, 1), num_classes: int = 1,
         encoder: str = "plain", *, encoder_weights: str | None = None,
         encoder_freeze: bool = False,
         padding: str = "same", depth: int | None = None, filters: int | None = None,
         batch_norm: bool = False, dropout: float = 0.5,
         decoder_filters: Sequence[int] | None = None, activation: str | None = "auto",
         name: str = "unet") -> keras.Model:
    """Build a U-Net: image (B, H, W, C) -> class map (B, H', W', num_classes), float32.

    ``padding="valid"`` with the plain encoder reproduces the paper exactly:
    572x572x1 -> 388x388x2, 23 conv layers, centre-cropped skips, 2x2
    up-convolutions, Dropout(0.5) on the deepest map ("drop-out layers at the
    end of the contracting path", Sec. 3.1), He-normal init (Sec. 3) and
    31,030,658 parameters. Legal sizes are 188 + 16k (see
    :func:`zoo.unet_output_size`). ``padding="same"`` (default) keeps
    H' = H, W' = W; sides must be divisible by 2**depth or ``None``.

    Args:
        input_shape: (H, W, C); H and W may be ``None`` with same padding.
        num_classes: output channels.
        encoder: a registered encoder name (``zoo.list_encoders()``).
        encoder_weights: ``None``, ``"imagenet"`` or the path of a local
            weights file of the backbone (offline use), where the encoder
            supports it.
        encoder_freeze: freeze the encoder (its batch norm in inference mode);
            undo with :func:`zoo.unfreeze_encoder`.
        depth: number of down-samplings (plain encoder: 2..6, default 4).
        filters: plain encoder base width (doubled per level, default 64).
        batch_norm: conv -> BN -> ReLU in the encoder (plain) and decoder.
        dropout: rate on the bottleneck; 0 disables.
        decoder_filters: one width per decoder stage, deepest first.
        activation: ``"auto"`` (sigmoid for 1 class, softmax otherwise), any
            Keras activation name, or ``None`` for logits.
    """
    inputs, encoded, _ = encoder_inputs(
        input_shape, encoder, depth=depth, padding=padding, encoder_weights=encoder_weights,
        filters=filters, batch_norm=batch_norm,
    )
    features = dict(encoded.features)
    if dropout:
        deepest = encoded.bottleneck_stride
        features[deepest] = layers.Dropout(dropout, name="bottleneck_dropout")(features[deepest])
    x = unet_decoder(features, decoder_filters=decoder_filters, padding=padding,
                     batch_norm=batch_norm)
    outputs = segmentation_head(x, num_classes, activation)
    return finish_model(inputs, outputs, name=name, encoder_freeze=encoder_freeze)
