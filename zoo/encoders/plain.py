"""The paper's plain convolutional encoder (Ronneberger et al. 2015, Sec. 2, Fig. 1).

Per level two 3x3 convs + ReLU, then 2x2 max-pool stride 2; channels double per
level (64-128-256-512-1024 at ``filters=64, depth=4``).
"""

from __future__ import annotations

import keras
from keras import layers

from ..blocks import conv_block
from ..registry import ENCODERS
from .base import EncoderFeatures, EncoderSpec


def build_plain_encoder(inputs, *, depth: int, padding: str, weights: str | None,
                        filters: int, batch_norm: bool,
                        output_stride: int | None = None) -> EncoderFeatures:
    """(B, H, W, C) -> {1: (B, H, W, f), 2: (B, H/2, W/2, 2f), ..., 2**depth: bottleneck}.

    The levels form a nested ``keras.Model`` named ``encoder`` (layers
    ``encoder_stage{i}_*``). With ``padding="valid"`` every map is 4 px smaller
    per level than the same-padding one; decoders centre-crop the skips to match.
    With ``output_stride`` the levels deeper than it skip their max-pool and
    dilate their convs by stride / output_stride instead.
    """
    if weights is not None:
        raise ValueError(
            "the plain encoder has no pretrained weights; use encoder_weights=None "
            "(load a whole trained model with keras.saving.load_model instead)"
        )
    image = keras.Input(shape=tuple(inputs.shape[1:]), name="encoder_input")
    features = []
    x = image
    for level in range(depth + 1):
        rate = max(1, 2**level // (output_stride or 2**depth))
        if level and rate == 1:
            x = layers.MaxPooling2D(2, name=f"encoder_stage{level + 1}_pool")(x)
        x = conv_block(x, filters * 2**level, name=f"encoder_stage{level + 1}",
                       padding=padding, batch_norm=batch_norm, dilation_rate=rate)
        features.append(x)
    encoder = keras.Model(image, features, name="encoder")
    return EncoderFeatures({2**level: f for level, f in enumerate(encoder(inputs))},
                           input_range=(0.0, 1.0))


PLAIN = EncoderSpec(
    name="plain",
    build=build_plain_encoder,
    default_depth=4,
    depths=(2, 3, 4, 5, 6),
    channels={2**i: 64 * 2**i for i in range(5)},
    paddings=("same", "valid"),
    input_range=(0.0, 1.0),
    description="Ronneberger et al. 2015 contracting path; options: filters=64, batch_norm=False",
    options={"filters": 64, "batch_norm": False},
    output_strides=(4, 8, 16),
)
ENCODERS.add("plain", PLAIN, "vanilla")
