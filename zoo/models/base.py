"""What every decoder shares: input validation and running the chosen encoder."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from ..encoders import EncoderFeatures, get_encoder, set_encoder_trainable
from ..geometry import check_same_padding_size, unet_output_size

PADDINGS = ("same", "valid")


def encoder_inputs(input_shape: Sequence[int | None], encoder: str, *, depth: int | None,
                   padding: str, encoder_weights: str | None, batch_norm: bool = False,
                   **encoder_options):
    """Validate ``input_shape`` = (H, W, C) and run ``encoder`` on a new input.

    ``batch_norm`` reaches encoders that have that option; other
    ``encoder_options`` set to ``None`` keep the encoder's default.
    Returns ``(inputs, features, depth)`` where ``features`` is the encoder's
    :class:`EncoderFeatures` (stride -> tensor). Raises ``ValueError`` for
    sizes the model cannot take, naming the legal ones.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    spec = get_encoder(encoder)
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(
            f"input_shape must be (height, width, channels) with a known channel count, "
            f"got {tuple(input_shape)}"
        )
    depth = spec.check(depth, padding)
    height, width, _ = input_shape
    if padding == "valid":
        if height is None or width is None:
            raise ValueError("padding='valid' needs a concrete input size, e.g. (572, 572, 1)")
        for side in (height, width):
            unet_output_size(side, depth)
    else:
        check_same_padding_size(height, depth, "height")
        check_same_padding_size(width, depth, "width")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    options = {k: v for k, v in encoder_options.items() if v is not None}
    if "batch_norm" in spec.options:
        options["batch_norm"] = batch_norm
    features: EncoderFeatures = spec(inputs, depth=depth, padding=padding,
                                     weights=encoder_weights, **options)
    return inputs, features, depth


def finish_model(inputs, outputs, *, name: str, encoder_freeze: bool = False) -> keras.Model:
    """Wrap the graph in a functional model; ``encoder_freeze`` freezes the encoder."""
    model = keras.Model(inputs, outputs, name=name)
    if encoder_freeze:
        set_encoder_trainable(model, False)
    return model


def default_decoder_width(features: dict, stride: int) -> int:
    """Decoder width at ``stride``: the skip's channels for encoders with stride-1
    features (plain, VGG: the U-Net's mirrored halving), else 16 * stride
    (segmentation-models' 256, 128, 64, 32, 16 at strides 16..1)."""
    if 1 in features:
        return int(features[stride].shape[-1])
    return 16 * stride
