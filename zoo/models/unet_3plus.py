"""U-Net 3+ (Huang et al., ICASSP 2020, arXiv 2004.08790): full-scale skips and deep
supervision; its classification-guided module is the pipeline's ``cgm`` option."""

from __future__ import annotations

from keras import layers

from ..blocks import UpsampleConv2D, conv_block
from .base import Architecture, Head, register_architecture

BRANCH_ORDERS = ("upsample_conv", "conv_upsample")


def full_scale_decoder(features: dict[int, object], *, cat_channels: int = 64,
                       batch_norm: bool = True, branch_order: str = "upsample_conv",
                       fused_upsampling: bool = True):
    """Full-scale skip connections (Sec. 2.1); returns the decoder maps by stride.

    For each decoder stage at stride s (deepest first), every shallower
    encoder map is max-pooled down to s, the same-stride encoder map is taken
    as is, and every deeper decoder map (the bottleneck for the deepest) is
    bilinearly up-sampled to s; each goes through 3x3 conv -> BN -> ReLU to
    ``cat_channels``, the N results are concatenated (N * cat_channels, 320
    for five levels) and fused by 3x3 conv -> BN -> ReLU. ``branch_order=
    "conv_upsample"`` convolves deeper maps before up-sampling them (cheaper;
    not the paper's order). With ``fused_upsampling`` (default), a branch
    whose input has more than 9 * ``cat_channels`` channels (the bottleneck's
    1024) computes up-sample -> 3x3 conv exactly but in the cheap order
    (:class:`zoo.blocks.UpsampleConv2D`: same function, same weights). Layers
    are named ``decoder_de{i}_...`` with the paper's numbering (1 = shallowest).
    """
    if branch_order not in BRANCH_ORDERS:
        raise ValueError(f"branch_order must be one of {BRANCH_ORDERS}, got {branch_order!r}")
    strides = sorted(features)
    number = {s: i + 1 for i, s in enumerate(strides)}
    decoded = {strides[-1]: features[strides[-1]]}

    def branch(x, name):
        return conv_block(x, cat_channels, name=name, convs=1, batch_norm=batch_norm)

    for stride in reversed(strides[:-1]):
        stage = f"decoder_de{number[stride]}"
        parts = []
        for source in strides:
            if source < stride:
                name = f"{stage}_en{number[source]}"
                pooled = layers.MaxPooling2D(stride // source, name=f"{name}_pool")(
                    features[source])
                parts.append(branch(pooled, name))
            elif source == stride:
                parts.append(branch(features[source], f"{stage}_en{number[source]}"))
            else:
                kind = "en" if source == strides[-1] else "de"
                name = f"{stage}_{kind}{number[source]}"
                factor = source // stride
                up = layers.UpSampling2D(factor, interpolation="bilinear",
                                         name=f"{name}_upsample")
                if branch_order == "conv_upsample":
                    parts.append(up(branch(decoded[source], name)))
                elif fused_upsampling and decoded[source].shape[-1] > 9 * cat_channels:
                    parts.append(_fused_branch(decoded[source], cat_channels, factor, name,
                                               batch_norm))
                else:
                    parts.append(branch(up(decoded[source]), name))
        x = layers.Concatenate(name=f"{stage}_concat")(parts)
        decoded[stride] = conv_block(x, cat_channels * len(strides), name=f"{stage}_fuse",
                                     convs=1, batch_norm=batch_norm)
    return decoded


def _fused_branch(x, filters, factor, name, batch_norm):
    """Up-sample -> 3x3 conv [-> BN] -> ReLU with the exact cheap-order layer."""
    x = UpsampleConv2D(filters, factor, use_bias=not batch_norm, name=f"{name}_upconv1")(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn1")(x)
    return layers.Activation("relu", name=f"{name}_relu1")(x)


def _decoder(features, *, padding: str, batch_norm: bool, cat_channels: int = 64,
             deep_supervision: bool = False, branch_order: str = "upsample_conv",
             fused_upsampling: bool = True) -> list[Head]:
    decoded = full_scale_decoder(features, cat_channels=cat_channels, batch_norm=batch_norm,
                                 branch_order=branch_order, fused_upsampling=fused_upsampling)
    strides = sorted(features)
    if not deep_supervision:
        return [Head(decoded[strides[0]], "head", level=1, stride=strides[0], kernel_size=3)]
    deepest = strides[-1]
    return [Head(decoded[s], f"head_{'en' if s == deepest else 'de'}{i}",
                 role="mask" if i == 1 else "side", level=i, stride=s, kernel_size=3)
            for i, s in enumerate(strides, start=1)]


unet_3plus = register_architecture(
    Architecture("unet_3plus", _decoder,
                 {"cat_channels": 64, "deep_supervision": False,
                  "branch_order": "upsample_conv", "fused_upsampling": True},
                 batch_norm=True),
    "unet3+", "unet3plus", "unet3p", doc="""
    Build a U-Net 3+: image (B, H, W, C) -> (B, H, W, num_classes), float32, same padding.

    Huang et al., ICASSP 2020 (arXiv 2004.08790): full-scale skips, full-scale
    deep supervision and the classification-guided module (``cgm=True``, a
    model option). With the plain encoder (64..1024, conv-BN-ReLU as the
    authors' code) this has 26,977,153 parameters for one class, the paper's
    26.97M (Sec. 3.2).

    Decoder options:
        cat_channels: channels of every full-scale branch (64 in the paper).
        deep_supervision: side outputs from every decoder stage and the
            bottleneck (3x3 conv, bilinear up to full size; Sec. 2.2), named
            ``head_de1`` (role ``mask``) ... ``head_de{L}``, ``head_en{L+1}``
            (role ``side``); otherwise one output ``head`` from the shallowest
            stage.
        branch_order: ``"upsample_conv"`` (the paper) or ``"conv_upsample"``
            (cheaper, not the paper's: deeper maps are convolved before
            up-sampling).
        fused_upsampling: compute the bottleneck's up-sample -> conv branches
            in the exact cheap order (same outputs and weights; faster).
    batch_norm defaults to True here (conv -> BN -> ReLU everywhere, the paper's).
    """)
