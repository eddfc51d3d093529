"""Decoders, one module each; importing this package registers them in ``zoo.registry.MODELS``."""

from .unet import unet, unet_decoder

__all__ = ["unet", "unet_decoder"]
