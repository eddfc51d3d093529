"""A PyTorch peer as a Keras model, so its accuracy cell trains in the zoo's own loop.

On the torch backend, :func:`keras_model` wraps a segmentation_models_pytorch or MONAI
network in :class:`TorchPeer` (a ``keras.layers.TorchModuleWrapper``): (B, H, W, C)
images in [0, 1] go in, are moved to channels-first for the network, and its logits come
back as a (B, H, W, classes) sigmoid map in float32, like every Keras subject's. The
layer is saved by its subject name and rebuilt from it (its state dict, batch-norm
statistics included, is the saved weights), so ``.keras`` files load without pickles.
"""

from __future__ import annotations

import keras

from . import subjects


@keras.saving.register_keras_serializable(package="zoo")
class TorchPeer(keras.layers.TorchModuleWrapper):
    """``subject`` (e.g. ``"smp:unet/resnet34"``) on (size, size, channels) images with
    ``classes`` sigmoid outputs: (B, size, size, channels) -> (B, size, size, classes)."""

    def __init__(self, subject: str, size: int, channels: int = 1, classes: int = 1,
                 **kwargs):
        if keras.backend.backend() != "torch":
            raise ValueError(f"{subject} is a PyTorch network; wrap it with "
                             "KERAS_BACKEND=torch")
        super().__init__(subjects.build(subject, size, channels, classes),
                         output_shape=(None, size, size, classes), **kwargs)
        self.subject, self.size, self.channels, self.classes = subject, size, channels, classes

    def call(self, inputs, training=None):
        logits = super().call(keras.ops.transpose(inputs, (0, 3, 1, 2)), training=training)
        return keras.ops.sigmoid(keras.ops.transpose(keras.ops.cast(logits, "float32"),
                                                     (0, 2, 3, 1)))

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "subject": self.subject,
                "size": self.size, "channels": self.channels, "classes": self.classes}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        return cls(**config)


def keras_model(subject: str, size: int, channels: int = 1, classes: int = 1) -> keras.Model:
    """A functional ``keras.Model`` around the PyTorch peer ``subject``."""
    inputs = keras.Input((size, size, channels), name="image")
    layer = TorchPeer(subject, size, channels, classes, name=subject.split(":")[0])
    return keras.Model(inputs, layer(inputs), name=subjects.label(subject).replace(
        ":", "_").replace("/", "_"))
