"""U-Net 3+ (Huang et al., ICASSP 2020, arXiv 2004.08790): full-scale skips, deep
supervision and the classification-guided module."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from ..blocks import UpsampleConv2D, conv_block, segmentation_head
from ..registry import MODELS
from .base import encoder_inputs, finish_model

BRANCH_ORDERS = ("upsample_conv", "conv_upsample")


@keras.saving.register_keras_serializable(package="zoo")
class ClassificationGate(keras.layers.Layer):
    """Multiplies masks by the CGM's 0/1 decision at inference (Huang et al. 2020, Sec. 2.3).

    ``[mask (B, H, W, K), probability (B, 1)] -> (B, H, W, K)``. In training the
    mask passes unchanged, so the segmentation loss keeps its gradient; at
    inference every mask of an image whose probability is below
    ``threshold`` becomes zero.
    """

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold

    def call(self, inputs, training=None):
        mask, probability = inputs
        if training:
            return mask
        present = ops.cast(probability > self.threshold, mask.dtype)
        return mask * present[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def presence_targets(masks) -> np.ndarray:
    """CGM targets: (B, H, W[, K]) masks -> (B, 1) float32, 1 where any pixel is foreground."""
    masks = np.asarray(masks)
    return (masks.reshape(len(masks), -1) > 0).any(axis=1, keepdims=True).astype("float32")


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


@MODELS.register("unet_3plus", "unet3+", "unet3plus", "unet3p")
def unet_3plus(input_shape: Sequence[int | None] = (None, None, 1), num_classes: int = 1,
               encoder: str = "plain", *, encoder_weights: str | None = None,
               encoder_freeze: bool = False, depth: int | None = None,
               filters: int | None = None, batch_norm: bool = True, dropout: float = 0.0,
               cat_channels: int = 64, deep_supervision: bool = False, cgm: bool = False,
               cgm_dropout: float = 0.5, cgm_threshold: float = 0.5,
               branch_order: str = "upsample_conv", fused_upsampling: bool = True,
               activation: str | None = "auto",
               name: str = "unet_3plus") -> keras.Model:
    """Build a U-Net 3+: image (B, H, W, C) -> (B, H, W, num_classes), float32, same padding.

    With the plain encoder (64..1024, conv-BN-ReLU as the authors' code) this
    has 26,977,153 parameters for one class, the paper's 26.97M (Sec. 3.2).

    Args:
        cat_channels: channels of every full-scale branch (64 in the paper).
        deep_supervision: side outputs from every decoder stage and the
            bottleneck (3x3 conv, bilinear up to full size; Sec. 2.2), named
            ``head_de1`` (the main output) ... ``head_de{L}``, ``head_en{L+1}``;
            otherwise one output ``head`` from the shallowest stage.
        cgm: the classification-guided module on the deepest encoder map
            (dropout ``cgm_dropout`` -> 1x1 conv -> global max-pool -> sigmoid;
            Sec. 2.3): a second output ``classification`` (B, 1), trained with
            binary cross-entropy on :func:`presence_targets`, whose 0/1 decision
            (``> cgm_threshold``) multiplies every segmentation output at
            inference (not in training). The gated masks keep the head names;
            the raw ones are the ``*_ungated`` layers.
        branch_order: ``"upsample_conv"`` (the paper) or ``"conv_upsample"``
            (cheaper, not the paper's: deeper maps are convolved before
            up-sampling).
        fused_upsampling: compute the bottleneck's up-sample -> conv branches
            in the exact cheap order (same outputs and weights; faster).
        batch_norm: conv -> BN -> ReLU everywhere (the paper's default).

    The other arguments are those of :func:`zoo.unet`.
    """
    inputs, encoded, _ = encoder_inputs(
        input_shape, encoder, depth=depth, padding="same", encoder_weights=encoder_weights,
        filters=filters, batch_norm=batch_norm,
    )
    features = dict(encoded.features)
    strides = sorted(features)
    deepest = strides[-1]
    if dropout:
        features[deepest] = layers.Dropout(dropout, name="bottleneck_dropout")(features[deepest])
    decoded = full_scale_decoder(features, cat_channels=cat_channels, batch_norm=batch_norm,
                                 branch_order=branch_order, fused_upsampling=fused_upsampling)

    def head(stride, head_name):
        return segmentation_head(decoded[stride], num_classes, activation, name=head_name,
                                 kernel_size=3, upsample=stride)

    if deep_supervision:
        heads = {s: f"head_{'en' if s == deepest else 'de'}{i + 1}" for i, s in enumerate(strides)}
    else:
        heads = {strides[0]: "head"}
    suffix = "_ungated" if cgm else ""
    outputs = [head(s, head_name + suffix) for s, head_name in heads.items()]
    if cgm:
        x = layers.Dropout(cgm_dropout, name="cgm_dropout")(features[deepest])
        x = layers.Conv2D(1, 1, name="cgm_conv")(x)
        x = layers.GlobalMaxPooling2D(name="cgm_pool")(x)
        probability = layers.Activation("sigmoid", dtype="float32", name="classification")(x)
        outputs = [ClassificationGate(cgm_threshold, dtype="float32", name=head_name)(
            [mask, probability]) for mask, head_name in zip(outputs, heads.values(), strict=True)]
        outputs.append(probability)
    return finish_model(inputs, outputs if len(outputs) > 1 else outputs[0], name=name,
                        encoder_freeze=encoder_freeze)
