"""U-Net++ (Zhou et al., DLMIA 2018; TMI 2019, arXiv 1912.05074): nested dense skips."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..blocks import conv_block, segmentation_head, up_conv
from ..registry import MODELS
from .base import default_decoder_width, encoder_inputs, finish_model


def nested_decoder(features: dict[int, object], *, widths: Sequence[int],
                   batch_norm: bool = False) -> dict[tuple[int, int], object]:
    """The nested skip pathways: returns every node ``X(i, j)``.

    ``X(i, 0)`` is the encoder map at the i-th smallest stride; for j >= 1,
    ``X(i, j) = conv(concat[X(i, 0), ..., X(i, j-1), up(X(i+1, j-1))])`` (TMI 2019,
    Eq. 1), with a 2x2 up-convolution and two 3x3 convs of ``widths[i]`` filters.
    Layers are named ``decoder_x{i}_{j}_...``.
    """
    strides = sorted(features)
    levels = len(strides) - 1
    grid = {(i, 0): features[s] for i, s in enumerate(strides)}
    for j in range(1, levels + 1):
        for i in range(levels + 1 - j):
            name = f"decoder_x{i}_{j}"
            up = up_conv(grid[(i + 1, j - 1)], widths[i], name=name)
            x = layers.Concatenate(name=f"{name}_concat")(
                [grid[(i, k)] for k in range(j)] + [up])
            grid[(i, j)] = conv_block(x, widths[i], name=name, batch_norm=batch_norm)
    return grid


@MODELS.register("unet_plus_plus", "unet++", "unetpp", "unetplusplus", "nested_unet")
def unet_plus_plus(input_shape: Sequence[int | None] = (None, None, 1), num_classes: int = 1,
                   encoder: str = "plain", *, encoder_weights: str | None = None,
                   encoder_freeze: bool = False, depth: int | None = None,
                   filters: int | None = None, batch_norm: bool = False, dropout: float = 0.0,
                   decoder_filters: Sequence[int] | None = None, deep_supervision: bool = False,
                   prune_level: int | None = None, activation: str | None = "auto",
                   name: str = "unet_plus_plus") -> keras.Model:
    """Build a U-Net++: image (B, H, W, C) -> (B, H, W, num_classes), float32, same padding.

    With the plain encoder at ``filters=32`` (32-64-128-256-512) this has
    9,041,601 parameters for one class: the paper's 9.04M (TMI 2019, Table 2).

    Args:
        deep_supervision: add a 1x1 head on every top node ``X(0, 1..L)``,
            named ``head_l1`` ... ``head_lL`` (L = depth), full resolution;
            without it the one output ``head`` reads ``X(0, L)``. Train with
            one loss per head, e.g. ``loss={"head_l1": l, ..., "head_l4": l}``
            (or :func:`zoo.losses.deep_supervision`); at inference average the
            heads ("accurate" mode) or take one ("fast" mode, see :func:`prune`).
        prune_level: return the pruned sub-network ending at ``X(0, level)``
            (built with deep supervision, then cut; see :func:`prune`).
        decoder_filters: one width per node row i = 0..L-1 (shallowest first);
            default :func:`zoo.models.base.default_decoder_width` per stride.
        dropout: rate on the deepest encoder map; 0 disables.

    The other arguments are those of :func:`zoo.unet`. Encoders without
    stride-1 features (ResNet, EfficientNet) get their head logits bilinearly
    up-sampled from stride 2 to full resolution.
    """
    inputs, encoded, _ = encoder_inputs(
        input_shape, encoder, depth=depth, padding="same", encoder_weights=encoder_weights,
        filters=filters, batch_norm=batch_norm,
    )
    features = dict(encoded.features)
    strides = sorted(features)
    if dropout:
        features[strides[-1]] = layers.Dropout(dropout, name="bottleneck_dropout")(
            features[strides[-1]])
    levels = len(strides) - 1
    widths = list(decoder_filters) if decoder_filters is not None else [
        default_decoder_width(features, s) for s in strides[:-1]]
    if len(widths) != levels:
        raise ValueError(f"decoder_filters needs {levels} values (one per node row at strides "
                         f"{strides[:-1]}), got {widths}")
    grid = nested_decoder(features, widths=widths, batch_norm=batch_norm)

    def head(j, head_name):
        return segmentation_head(grid[(0, j)], num_classes, activation, name=head_name,
                                 upsample=strides[0])

    if deep_supervision or prune_level is not None:
        outputs = [head(j, f"head_l{j}") for j in range(1, levels + 1)]
    else:
        outputs = head(levels, "head")
    model = finish_model(inputs, outputs, name=name, encoder_freeze=encoder_freeze)
    return model if prune_level is None else prune(model, prune_level)


def prune(model: keras.Model, level: int) -> keras.Model:
    """The U-Net++ sub-network ending at ``X(0, level)`` (TMI 2019, Sec. III-C).

    It shares the trained layers (and weights) of ``model``; its output equals
    ``model``'s ``head_l{level}`` output exactly, and it skips every node it
    does not need (the deeper encoder levels too, for the plain encoder).
    ``model`` must have been built with ``deep_supervision=True``.
    """
    levels = [int(n.removeprefix("head_l")) for n in model.output_names
              if n.startswith("head_l")]
    if not levels:
        raise ValueError(f"cannot prune {model.name!r}: it has no deep-supervision heads; "
                         "build it with deep_supervision=True to prune")
    if level not in levels:
        raise ValueError(f"cannot prune {model.name!r} to level {level}: its levels are "
                         f"{', '.join(map(str, levels))}")
    output = model.get_layer(f"head_l{level}").output
    return keras.Model(model.inputs, output, name=f"{model.name}_l{level}")
