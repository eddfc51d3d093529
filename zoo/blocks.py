"""Shared building blocks: conv blocks, up-sampling, centre crops and float32 heads.

All tensors are channels-last: (B, H, W, C).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

HE_NORMAL = "he_normal"  # Ronneberger et al. 2015, Sec. 3: std sqrt(2/N), N = k*k*C_in


def conv_block(x, filters: int, *, name: str, padding: str = "same", batch_norm: bool = False,
               convs: int = 2, kernel_size: int = 3, dilation_rate: int = 1,
               separable: bool = False):
    """``convs`` x (3x3 conv -> [BN] -> ReLU); (B, H, W, C) -> (B, H', W', filters).

    With ``padding="valid"`` each conv trims 1 px per side (U-Net, Sec. 2).
    Layers are named ``{name}_conv{i}`` (+ ``_bn{i}``, ``_relu{i}`` with batch norm).
    ``separable``: depthwise-separable convs (``keras.layers.SeparableConv2D``).
    """
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    initializer = "depthwise_initializer" if separable else "kernel_initializer"
    for i in range(1, convs + 1):
        x = conv(
            filters, kernel_size, padding=padding, use_bias=not batch_norm,
            activation=None if batch_norm else "relu", dilation_rate=dilation_rate,
            name=f"{name}_conv{i}", **{initializer: HE_NORMAL},
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


ROLES = ("mask", "side", "classification")


@keras.saving.register_keras_serializable(package="zoo")
class HeadOutput(layers.Activation):
    """The last layer of a model output: its activation, and the output's declared role.

    ``role``: ``"mask"`` (the main segmentation output), ``"side"`` (a deep-
    supervision output) or ``"classification"``; ``level``: the depth the output
    belongs to (U-Net++ ``X(0, level)``, U-Net 3+ stage) or ``None``. The role
    travels in the layer's config, so :func:`output_roles` reads it after a
    ``.keras`` round trip too. ``activation=None`` keeps logits.
    """

    def __init__(self, activation=None, role: str = "mask", level: int | None = None, **kwargs):
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        super().__init__(activation or "linear", **kwargs)
        self.role, self.level = role, level

    def get_config(self):
        return {**super().get_config(), "role": self.role, "level": self.level}


def output_roles(model) -> dict[str, tuple[str, int | None]]:
    """``{output name: (role, level)}`` for a model built by the zoo's pipeline.

    Raises ``ValueError`` naming an output that declares no role (a model not
    built by ``zoo.build``, or by a zoo before output roles existed).
    """
    roles = {}
    for name in model.output_names:
        layer = model.get_layer(name)
        if getattr(layer, "role", None) not in ROLES:
            raise ValueError(
                f"output {name!r} of model {model.name!r} declares no role (mask, side or "
                "classification): it was not built by the zoo's model pipeline. Rebuild it "
                "with zoo.build(...) and load its weights (model.load_weights)"
            )
        roles[name] = (layer.role, layer.level)
    return roles


def mask_output(model, values):
    """The main mask among ``values``, a model's outputs (shapes or arrays), by declared role.

    One output is returned as it is; of several, the one whose :class:`HeadOutput`
    declares role ``mask``, else (a model not built by the zoo) the first.
    """
    if not isinstance(values, list):
        return values
    try:
        roles = [role for role, _ in output_roles(model).values()]
    except ValueError:
        return values[0]
    return values[roles.index("mask")] if "mask" in roles else values[0]


def segmentation_head(x, num_classes: int, activation: str | None, *, name: str = "head",
                      role: str = "mask", level: int | None = None, kernel_size: int = 1,
                      upsample: int = 1, logits: bool = False):
    """Conv to ``num_classes`` [-> bilinear x``upsample``] -> activation, all in float32.

    (B, h, w, C) -> (B, h * upsample, w * upsample, num_classes); with
    ``logits`` ``x`` already holds the class scores and gets no conv. The output
    layer (a :class:`HeadOutput` declaring ``role`` and ``level``) is named
    ``name``, so it keys ``model.fit`` losses. Computing the head in float32
    keeps softmax/sigmoid and the losses safe under ``mixed_float16``.
    Up-sampling the class logits rather than the features is the cheap order
    used by U-Net 3+'s side outputs (Huang et al. 2020).
    """
    if not logits:
        x = layers.Conv2D(num_classes, kernel_size, padding="same",
                          kernel_initializer=HE_NORMAL, dtype="float32", name=f"{name}_conv")(x)
    if upsample > 1:
        x = layers.UpSampling2D(upsample, interpolation="bilinear", dtype="float32",
                                name=f"{name}_upsample")(x)
    return HeadOutput(resolve_activation(activation, num_classes), role=role, level=level,
                      dtype="float32", name=name)(x)


@keras.saving.register_keras_serializable(package="zoo")
class BilinearUpsampling(keras.initializers.Initializer):
    """Kernel of a ``Conv2DTranspose(C, 2f, strides=f, padding="same")`` that up-samples
    each of its C channels f times by bilinear interpolation (FCN, Long et al. 2015,
    Sec. 3.3). Shape (2f, 2f, C, C): the separable tent filter
    ``(1 - |i - c| / f)`` on the diagonal, zeros elsewhere.
    """

    def __call__(self, shape, dtype=None):
        size, _, out_channels, in_channels = shape
        if size != shape[1] or size % 2 or out_channels != in_channels:
            raise ValueError(f"bilinear up-sampling needs a (2f, 2f, C, C) kernel, got {shape}")
        factor = size // 2
        tent = 1 - np.abs(np.arange(size) - (factor - 0.5)) / factor
        kernel = np.zeros(shape, "float32")
        for channel in range(in_channels):
            kernel[:, :, channel, channel] = np.outer(tent, tent)
        return ops.convert_to_tensor(kernel, dtype=dtype)


@keras.saving.register_keras_serializable(package="zoo")
class UpsampleConv2D(layers.Layer):
    """Bilinear x``factor`` up-sampling followed by a same-padded k x k conv, computed cheaply.

    (B, h, w, C) -> (B, h * factor, w * factor, filters). The result equals
    ``Conv2D(filters, k, padding="same")(UpSampling2D(factor, "bilinear")(x))``
    with the same kernel (up to float rounding): both maps are linear and the
    interpolation weights are shared by all channels, so
    ``conv(up(x))[p] = sum_t W_t up(x)[p + t] = sum_t up(x W_t)[p + t]``. The
    kernel taps are applied at the low resolution (one 1x1 product to k*k*filters
    channels), those are up-sampled, and the k*k shifted slices are summed,
    instead of a k x k conv over C channels at the high resolution. Zero
    padding agrees on both sides, so borders are exact too. The kernel has the
    Conv2D's shape (k, k, C, filters): same parameters, same initialisation.
    """

    def __init__(self, filters: int, factor: int, kernel_size: int = 3, use_bias: bool = True,
                 kernel_initializer=HE_NORMAL, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.factor, self.kernel_size = filters, factor, kernel_size
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(shape=(k, k, input_shape[-1], self.filters),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = (self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
                     if self.use_bias else None)

    def call(self, x):
        k, f = self.kernel_size, self.filters
        taps = ops.reshape(ops.transpose(self.kernel, (2, 0, 1, 3)), (-1, k * k * f))
        z = ops.matmul(x, taps)
        shape = ops.shape(z)
        height, width = shape[1] * self.factor, shape[2] * self.factor
        up = ops.image.resize(z, (height, width), interpolation="bilinear",
                              data_format="channels_last")
        pad = k // 2
        up = ops.pad(up, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        out = None
        for dy in range(k):
            for dx in range(k):
                tap = (dy * k + dx) * f
                part = up[:, dy:dy + height, dx:dx + width, tap:tap + f]
                out = part if out is None else out + part
        return out + self.bias if self.use_bias else out

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        h, w = (None if s is None else s * self.factor for s in (h, w))
        return (b, h, w, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "factor": self.factor,
                "kernel_size": self.kernel_size, "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
