"""Shared building blocks: conv blocks, up-sampling, centre crops and float32 heads.

All tensors are channels-last: (B, H, W, C).
"""

from __future__ import annotations

from keras import layers

HE_NORMAL = "he_normal"  # Ronneberger et al. 2015, Sec. 3: std sqrt(2/N), N = k*k*C_in


def conv_block(x, filters: int, *, name: str, padding: str = "same", batch_norm: bool = False,
               convs: int = 2, kernel_size: int = 3):
    """``convs`` x (3x3 conv -> [BN] -> ReLU); (B, H, W, C) -> (B, H', W', filters).

    With ``padding="valid"`` each conv trims 1 px per side (U-Net, Sec. 2).
    Layers are named ``{name}_conv{i}`` (+ ``_bn{i}``, ``_relu{i}`` with batch norm).
    """
    for i in range(1, convs + 1):
        x = layers.Conv2D(
            filters, kernel_size, padding=padding, use_bias=not batch_norm,
            activation=None if batch_norm else "relu",
            kernel_initializer=HE_NORMAL, name=f"{name}_conv{i}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
            x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def up_conv(x, filters: int, *, name: str):
    """2x2 "up-convolution" (transposed conv, stride 2): (B, H, W, C) -> (B, 2H, 2W, filters)."""
    return layers.Conv2DTranspose(
        filters, 2, strides=2, kernel_initializer=HE_NORMAL, name=f"{name}_upconv"
    )(x)


def center_crop_to(skip, reference, *, name: str):
    """Centre-crop ``skip`` (B, H, W, C) to the spatial size of ``reference``.

    This is the U-Net's "cropping ... due to the loss of border pixels in every
    convolution" (Ronneberger et al. 2015, Sec. 2). Returns ``skip`` unchanged
    when the sizes already agree.
    """
    (sh, sw), (rh, rw) = skip.shape[1:3], reference.shape[1:3]
    if (sh, sw) == (rh, rw):
        return skip
    dh, dw = sh - rh, sw - rw
    if dh < 0 or dw < 0 or dh % 2 or dw % 2:
        raise ValueError(f"cannot centre-crop a {sh}x{sw} skip to {rh}x{rw}")
    return layers.Cropping2D(((dh // 2, dh // 2), (dw // 2, dw // 2)), name=f"{name}_crop")(skip)


def resolve_activation(activation: str | None, num_classes: int) -> str | None:
    """``"auto"`` -> sigmoid for one class, softmax for several; ``None`` -> logits."""
    if activation == "auto":
        return "sigmoid" if num_classes == 1 else "softmax"
    return activation


def segmentation_head(x, num_classes: int, activation: str | None, *, name: str = "head",
                      kernel_size: int = 1, upsample: int = 1):
    """Conv to ``num_classes`` [-> bilinear x``upsample``] [-> activation], all in float32.

    (B, h, w, C) -> (B, h * upsample, w * upsample, num_classes). The output
    tensor is named ``name``, so it keys ``model.fit`` losses. Computing the
    head in float32 keeps softmax/sigmoid and the losses safe under
    ``mixed_float16``. Up-sampling the class logits rather than the features
    is the cheap order used by U-Net 3+'s side outputs (Huang et al. 2020).
    """
    activation = resolve_activation(activation, num_classes)
    layer_names = [f"{name}_conv", f"{name}_upsample"][: 1 + (upsample > 1)]
    if not activation:
        layer_names[-1] = name
    x = layers.Conv2D(num_classes, kernel_size, padding="same", kernel_initializer=HE_NORMAL,
                      dtype="float32", name=layer_names[0])(x)
    if upsample > 1:
        x = layers.UpSampling2D(upsample, interpolation="bilinear", dtype="float32",
                                name=layer_names[1])(x)
    if activation:
        x = layers.Activation(activation, dtype="float32", name=name)(x)
    return x
