"""Forward FLOPs per image, counted from a model's layers.

A multiply-add counts as 2 FLOPs. Counted: convolutions (1-3D, transposed,
depthwise, separable) and dense layers, weighted by the output (or, for
transposed convolutions, the input) positions; nested models are walked.
Not counted: bias adds, batch norm, activations, pooling, resizing and
element-wise merges (memory-bound and a few percent at most in these
networks, the usual convention). :class:`zoo.blocks.UpsampleConv2D` counts as
the bilinear up-sampling + k x k convolution it equals, so the count describes
the network as defined, not the cheaper order in which the zoo evaluates it.
"""

from __future__ import annotations

import math

import keras


def count_flops(model) -> int:
    """Forward FLOPs for one image of ``model`` (built with concrete H and W).

    Works for any Keras functional model, including peers' models built with
    TensorFlow's bundled Keras 2 under Keras 3. Raises ``ValueError`` naming the
    layer whose spatial size is unknown (rebuild the model with a fixed input shape).
    """
    if not hasattr(model, "layers"):
        raise TypeError(f"count_flops needs a Keras model, got {type(model).__name__}: build "
                        "it first, e.g. zoo.count_flops(zoo.build('unet'))")
    return sum(_layer_flops(layer) for layer in model.layers)


def _layer_flops(layer) -> int:
    if isinstance(layer, keras.Model):
        return count_flops(layer)
    kind = type(layer).__name__
    rule = _RULES.get(kind)
    if rule is None:
        return 0
    return int(rule(layer, _shape(layer, "input"), _shape(layer, "output")))


def _shape(layer, which: str) -> tuple[int, ...]:
    tensor = getattr(layer, which)
    if isinstance(tensor, (list, tuple)):
        tensor = tensor[0]
    shape = tuple(tensor.shape[1:])
    if any(side is None for side in shape):
        raise ValueError(
            f"layer {layer.name!r} has {which} shape {tuple(tensor.shape)} with an unknown "
            "size; build the model with a concrete input shape, e.g. (256, 256, 1), to count "
            "its FLOPs"
        )
    return shape


def _conv(layer, inp, out):
    groups = getattr(layer, "groups", 1) or 1
    return 2 * math.prod(layer.kernel_size) * (inp[-1] // groups) * out[-1] * math.prod(out[:-1])


def _transposed(layer, inp, out):
    return 2 * math.prod(layer.kernel_size) * inp[-1] * out[-1] * math.prod(inp[:-1])


def _depthwise(layer, inp, out):
    return 2 * math.prod(layer.kernel_size) * inp[-1] * layer.depth_multiplier * math.prod(
        out[:-1])


def _separable(layer, inp, out):
    mid = inp[-1] * layer.depth_multiplier
    return 2 * math.prod(out[:-1]) * (math.prod(layer.kernel_size) * mid + mid * out[-1])


def _dense(layer, inp, out):
    return 2 * inp[-1] * out[-1] * math.prod(out[:-1])


def _upsample_conv(layer, inp, out):
    return 2 * layer.kernel_size ** 2 * inp[-1] * out[-1] * math.prod(out[:-1])


_RULES = {
    **dict.fromkeys(("Conv1D", "Conv2D", "Conv3D"), _conv),
    **dict.fromkeys(("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"), _transposed),
    **dict.fromkeys(("DepthwiseConv1D", "DepthwiseConv2D"), _depthwise),
    **dict.fromkeys(("SeparableConv1D", "SeparableConv2D"), _separable),
    "Dense": _dense,
    "UpsampleConv2D": _upsample_conv,
}
