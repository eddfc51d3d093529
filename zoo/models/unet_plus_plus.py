"""U-Net++ (Zhou et al., DLMIA 2018; TMI 2019, arXiv 1912.05074): nested dense skips."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..blocks import conv_block, output_roles, up_conv
from .base import Architecture, Head, default_decoder_width, register_architecture


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


def _decoder(features, *, padding: str, batch_norm: bool, decoder_filters=None,
             deep_supervision: bool = False, prune_level: int | None = None) -> list[Head]:
    strides = sorted(features)
    levels = len(strides) - 1
    widths = list(decoder_filters) if decoder_filters is not None else [
        default_decoder_width(features, s) for s in strides[:-1]]
    if len(widths) != levels:
        raise ValueError(f"decoder_filters needs {levels} values (one per node row at strides "
                         f"{strides[:-1]}), got {widths}")
    grid = nested_decoder(features, widths=widths, batch_norm=batch_norm)
    if not deep_supervision and prune_level is None:
        return [Head(grid[(0, levels)], "head", level=levels, stride=strides[0])]
    return [Head(grid[(0, j)], f"head_l{j}", role="mask" if j == levels else "side", level=j,
                 stride=strides[0]) for j in range(1, levels + 1)]


def _finish(model: keras.Model, options: dict) -> keras.Model:
    level = options["prune_level"]
    return model if level is None else prune(model, level)


unet_plus_plus = register_architecture(
    Architecture("unet_plus_plus", _decoder,
                 {"decoder_filters": None, "deep_supervision": False, "prune_level": None},
                 finish=_finish),
    "unet++", "unetpp", "unetplusplus", "nested_unet", doc="""
    Build a U-Net++: image (B, H, W, C) -> (B, H, W, num_classes), float32, same padding.

    Zhou et al., DLMIA 2018; TMI 2019 (arXiv 1912.05074): nested dense skips.
    With the plain encoder at ``encoder_options={"filters": 32}``
    (32-64-128-256-512) this has 9,041,601 parameters for one class: the
    paper's 9.04M (TMI 2019, Table 2). Encoders without stride-1 features
    (ResNet, EfficientNet) get their head logits bilinearly up-sampled from
    stride 2 to full resolution.

    Decoder options:
        decoder_filters: one width per node row i = 0..L-1 (shallowest first);
            default :func:`zoo.models.base.default_decoder_width` per stride.
        deep_supervision: a 1x1 head on every top node ``X(0, 1..L)``, named
            ``head_l1`` ... ``head_lL`` (L = depth; ``head_lL`` has role
            ``mask``, the others ``side``); without it the one output ``head``
            reads ``X(0, L)``. Train with one loss per head
            (:func:`zoo.losses.deep_supervision`); at inference average the
            heads ("accurate" mode) or take one ("fast" mode, :func:`prune`).
        prune_level: return the pruned sub-network ending at ``X(0, level)``
            (built with deep supervision, then cut; see :func:`prune`).
    """)


def prune(model: keras.Model, level: int) -> keras.Model:
    """The U-Net++ sub-network ending at ``X(0, level)`` (TMI 2019, Sec. III-C).

    It shares the trained layers (and weights) of ``model``; its output equals
    ``model``'s level-``level`` output exactly, and it skips every node it does
    not need: the decoder nodes beyond the level and the deeper encoder levels
    (the nested ``encoder`` is cut after the maps the level reads). ``model`` must
    have deep-supervision outputs (``deep_supervision=True``); the outputs'
    declared roles and levels (:func:`zoo.models.output_roles`) say which. With the
    classification-guided module (``cgm=True``) the encoder stays whole: the gate
    reads its deepest map.
    """
    roles = output_roles(model)
    levels = {lvl: name for name, (role, lvl) in roles.items()
              if role in ("mask", "side") and lvl is not None}
    if not any(role == "side" for role, _ in roles.values()):
        raise ValueError(f"cannot prune {model.name!r}: it has no deep-supervision outputs; "
                         "build it with deep_supervision=True to prune")
    if level not in levels:
        raise ValueError(f"cannot prune {model.name!r} to level {level}: its levels are "
                         f"{', '.join(map(str, sorted(levels)))}")
    head = keras.Model(model.inputs, model.get_layer(levels[level]).output,
                       name=f"{model.name}_l{level}")
    encoder = model.get_layer("encoder")
    needed = level + 1  # X(0, level) reads the encoder maps X(0..level, 0)
    gated = any(role == "classification" for role, _ in roles.values())
    if gated or len(encoder.outputs) <= needed:
        return head

    def share(layer):  # the same layers; the encoder cut after the maps the level reads
        if layer is encoder:
            return keras.Model(encoder.inputs, encoder.outputs[:needed], name="encoder")
        return layer

    return keras.models.clone_model(head, clone_function=share)
