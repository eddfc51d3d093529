"""Input normalisation folded into one fixed 1x1 convolution at the model's input.

Every zoo model takes float images in [0, 1] (any channel count). Each encoder
declares what its backbone expects (``mode``); the model maps [0, 1] to that
with a non-trainable 1x1 conv named ``encoder_preprocess``, so a saved model
carries its preprocessing. With pretrained weights and C != 3 input channels the
same conv first maps C channels to RGB: gray is replicated (equivalent to
summing the first convolution's RGB kernels) and C > 3 channels are averaged
per RGB slot, scaled by 3/C (equivalent to repeating the kernels and
rescaling them by 3/C).
"""

from __future__ import annotations

import numpy as np
from keras import layers

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])

MODES = {
    # mode: (what the backbone expects, 3x3 matrix on RGB in [0, 1], bias)
    "caffe": ("BGR in [0, 255] minus the ImageNet mean (keras ResNet, VGG)",
              255.0 * np.eye(3)[::-1], -CAFFE_MEAN_BGR),
    "torch": ("RGB standardised with the ImageNet mean and std",
              np.diag(1 / IMAGENET_STD), -IMAGENET_MEAN / IMAGENET_STD),
    "tf": ("RGB in [-1, 1] (keras ResNetV2, EfficientNetV2-S, MobileNet)",
           2.0 * np.eye(3), -np.ones(3)),
    "raw255": ("RGB in [0, 255]; the backbone normalises itself (keras EfficientNet)",
               255.0 * np.eye(3), np.zeros(3)),
}


def rgb_adapter(in_channels: int) -> np.ndarray:
    """(C, 3) matrix mapping C input channels to RGB (identity for C = 3)."""
    adapter = np.zeros((in_channels, 3))
    for rgb in range(3):
        if in_channels >= 3:
            adapter[rgb::3, rgb] = 3.0 / in_channels
        else:
            adapter[rgb % in_channels, rgb] = 1.0
    return adapter


def preprocessing_affine(mode: str, in_channels: int, to_rgb: bool):
    """Kernel (C, C_out) and bias (C_out,) of the fixed input conv.

    ``to_rgb``: map to the 3 channels a pretrained stem expects; otherwise keep
    C channels and normalise each with the channel-averaged statistics.
    """
    _, matrix, bias = MODES[mode]
    if to_rgb or in_channels == 3:
        return rgb_adapter(in_channels) @ matrix, bias
    scale = np.abs(matrix).sum(axis=0).mean()
    return scale * np.eye(in_channels), np.full(in_channels, bias.mean())


def preprocess(x, mode: str, to_rgb: bool):
    """Apply the fixed normalisation: (B, H, W, C) in [0, 1] -> (B, H, W, C or 3)."""
    kernel, bias = preprocessing_affine(mode, int(x.shape[-1]), to_rgb)
    conv = layers.Conv2D(kernel.shape[1], 1, trainable=False, name="encoder_preprocess")
    y = conv(x)
    conv.set_weights([kernel[None, None].astype("float32"), bias.astype("float32")])
    return y
