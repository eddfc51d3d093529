"""Architectures, one decoder module each; importing this package registers them in
``zoo.registry.MODELS`` through :func:`zoo.models.base.register_architecture`."""

from ..blocks import mask_output, output_roles
from .base import ClassificationGate, build_model, presence_targets
from .deeplabv3_plus import deeplabv3_plus
from .fcn import fcn
from .hrnet import hrnet
from .unet import unet, unet_decoder
from .unet_3plus import unet_3plus
from .unet_plus_plus import prune, unet_plus_plus

__all__ = ["ClassificationGate", "build_model", "deeplabv3_plus", "fcn", "hrnet", "mask_output",
           "output_roles",
           "presence_targets", "prune", "unet", "unet_3plus", "unet_decoder", "unet_plus_plus"]
