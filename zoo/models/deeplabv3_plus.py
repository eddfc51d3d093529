"""DeepLabV3+ (Chen, Zhu, Papandreou, Schroff, Adam, ECCV 2018, arXiv 1802.02611) with any
encoder that can dilate its deepest stages."""

from __future__ import annotations

import keras
from keras import layers, ops

from ..blocks import conv_block
from .base import Architecture, Head, register_architecture

PAPER_RATES = (6, 12, 18)  # at output stride 16 (Sec. 3.1); doubled at 8
LOW_LEVEL_STRIDE = 4


@keras.saving.register_keras_serializable(package="zoo")
class BroadcastLike(layers.Layer):
    """``[pooled (B, 1, 1, C), reference (B, H, W, _)] -> (B, H, W, C)``.

    ASPP's image-level feature placed at every pixel: the bilinear up-sampling of
    a 1x1 map, for any H, W (also unknown ones).
    """

    def call(self, inputs):
        pooled, reference = inputs
        shape = ops.shape(reference)
        return ops.broadcast_to(pooled, (shape[0], shape[1], shape[2], pooled.shape[-1]))

    def compute_output_shape(self, input_shape):
        (b, _, _, c), (_, h, w, _) = input_shape
        return (b, h, w, c)


def aspp(x, *, rates, filters: int = 256, batch_norm: bool = True, separable: bool = False,
         dropout: float = 0.1, name: str = "aspp"):
    """Atrous spatial pyramid pooling: (B, h, w, C) -> (B, h, w, filters).

    A 1x1 conv, one 3x3 conv per atrous rate and image pooling (global average ->
    1x1 conv -> broadcast), ``filters`` channels each with BN + ReLU,
    concatenated and projected by a 1x1 conv (DeepLabV3, Chen et al. 2017,
    Sec. 3.3; V3+, Sec. 3.1), then dropout (0.1 in the authors' code).
    """
    block = {"batch_norm": batch_norm, "convs": 1}
    branches = [conv_block(x, filters, kernel_size=1, name=f"{name}_1x1", **block)]
    branches += [conv_block(x, filters, dilation_rate=rate, separable=separable,
                            name=f"{name}_rate{rate}", **block) for rate in rates]
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_image_pool")(x)
    pooled = conv_block(pooled, filters, kernel_size=1, name=f"{name}_image", **block)
    branches.append(BroadcastLike(name=f"{name}_image_broadcast")([pooled, x]))
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    x = conv_block(x, filters, kernel_size=1, name=f"{name}_projection", **block)
    return layers.Dropout(dropout, name=f"{name}_dropout")(x) if dropout else x


def deeplabv3_plus_decoder(features: dict[int, object], *, output_stride: int = 16,
                           atrous_rates=None, aspp_filters: int = 256,
                           low_level_filters: int = 48, decoder_filters: int = 256,
                           separable: bool = False, batch_norm: bool = True):
    """Encoder maps -> (B, H/4, W/4, decoder_filters) (Sec. 3.2, Fig. 2).

    ASPP on the deepest map (stride ``output_stride``), up-sampled bilinearly to
    stride 4, concatenated with the stride-4 encoder map reduced to
    ``low_level_filters`` (48) by a 1x1 conv, then two 3x3 convs.
    """
    if LOW_LEVEL_STRIDE not in features:
        raise ValueError(f"DeepLabV3+ needs an encoder map at stride {LOW_LEVEL_STRIDE}; "
                         f"this encoder gives strides {sorted(features)}")
    rates = tuple(atrous_rates) if atrous_rates is not None else tuple(
        rate * 16 // output_stride for rate in PAPER_RATES)
    if len(set(rates)) != len(rates) or not all(isinstance(r, int) and r > 1 for r in rates):
        raise ValueError(f"atrous_rates must be distinct integers above 1 (the 1x1 branch is "
                         f"always there), got {rates}")
    x = aspp(features[max(features)], rates=rates, filters=aspp_filters, batch_norm=batch_norm,
             separable=separable)
    x = layers.UpSampling2D(output_stride // LOW_LEVEL_STRIDE, interpolation="bilinear",
                            name="decoder_upsample")(x)
    low = conv_block(features[LOW_LEVEL_STRIDE], low_level_filters, kernel_size=1, convs=1,
                     batch_norm=batch_norm, name="decoder_low_level")
    x = layers.Concatenate(name="decoder_concat")([x, low])
    return conv_block(x, decoder_filters, batch_norm=batch_norm, separable=separable,
                      name="decoder")


def _decoder(features, *, padding: str, batch_norm: bool, **options) -> list[Head]:
    return [Head(deeplabv3_plus_decoder(features, batch_norm=batch_norm, **options), "head",
                 stride=LOW_LEVEL_STRIDE)]


deeplabv3_plus = register_architecture(
    Architecture("deeplabv3_plus", _decoder,
                 {"output_stride": 16, "atrous_rates": None, "aspp_filters": 256,
                  "low_level_filters": 48, "decoder_filters": 256, "separable": False},
                 batch_norm=True, encoder="resnet101", encoder_keys=("output_stride",)),
    "deeplabv3+", "deeplabv3plus", "deeplab", doc="""
    Build a DeepLabV3+: image (B, H, W, C) -> (B, H, W, num_classes), float32, same padding.

    Chen et al., ECCV 2018 (arXiv 1802.02611), on ResNet-101 by default (the
    paper's ResNet experiments; its Xception-65 is not in keras.applications).
    The encoder runs at ``output_stride`` 16: the stages deeper than it are
    dilated instead of strided (``zoo.encoders.dilatable_encoders()``: the
    plain encoder and ResNet-18/34/50/101/152; the others raise, naming the fix
    ``output_stride=32`` (ASPP on the undilated stride-32 map, rates halved)).
    ASPP with rates 6/12/18 (doubled at output stride 8) and image pooling,
    256 channels; the decoder fuses the stride-4 encoder map reduced to 48
    channels, two 3x3 convs of 256, and the 1x1 class conv whose logits are
    up-sampled 4x bilinearly. Every conv has BN + ReLU. segmentation-models-
    pytorch's DeepLabV3Plus differs: rates 12/24/36 at output stride 16,
    separable ASPP and decoder convs, and an extra separable 3x3 conv after
    ASPP.

    Decoder options:
        output_stride: 8, 16 (paper default) or the encoder's own 2**depth.
        atrous_rates: ASPP rates; default (6, 12, 18) * 16 / output_stride.
        aspp_filters, low_level_filters, decoder_filters: 256, 48, 256.
        separable: depthwise-separable 3x3 convs in ASPP and the decoder (the
            paper's Xception variant, Sec. 3.2; Keras' SeparableConv2D has no
            BN between its depthwise and pointwise parts).
    """)
