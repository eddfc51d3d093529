"""Decoders, one module each; importing this package registers them in ``zoo.registry.MODELS``."""

from .unet import unet, unet_decoder
from .unet_3plus import ClassificationGate, presence_targets, unet_3plus
from .unet_plus_plus import prune, unet_plus_plus

__all__ = ["ClassificationGate", "presence_targets", "prune", "unet", "unet_3plus",
           "unet_decoder", "unet_plus_plus"]
