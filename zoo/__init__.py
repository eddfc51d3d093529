"""unet-zoo: U-Net, U-Net++, U-Net 3+ and the FCN / DeepLabV3+ baselines for Keras 3.

Public API: :func:`unet`, :func:`unet_plus_plus`, :func:`unet_3plus`, :func:`fcn`,
:func:`deeplabv3_plus`, :func:`hrnet`,
:func:`prune`, :func:`predict_tiled`, :func:`count_flops`, :func:`build`, :func:`list_models`,
:func:`list_encoders`, :func:`unfreeze_encoder`, :func:`unet_output_size`,
:func:`unet_input_size`; trained checkpoints: :mod:`zoo.pretrained`.
"""

import importlib

from . import losses, metrics
from .encoders import get_encoder, list_encoders, unfreeze_encoder
from .flops import count_flops
from .geometry import unet_input_size, unet_output_size
from .inference import predict_tiled
from .models import deeplabv3_plus, fcn, hrnet, prune, unet, unet_3plus, unet_plus_plus
from .registry import MODELS

__version__ = "0.1.0"

# Loaded on first use, so that ``import zoo`` and building a model stay light: these
# need scipy, scikit-image, albumentations or tifffile (``zoo.data.weight_map`` ...).
LAZY_MODULES = ("bench", "data", "evaluation", "postprocess", "pretrained", "training")


def __getattr__(name: str):
    if name in LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *LAZY_MODULES})


def build(name: str, **kwargs):
    """Build a registered model by name, e.g. ``zoo.build("unet", encoder="plain")``.

    Unknown names raise ``ValueError`` suggesting the closest registered names.
    """
    return MODELS.get(name)(**kwargs)


def list_models() -> list[str]:
    """Registered model names (aliases are accepted by :func:`build` too)."""
    return MODELS.names()


__all__ = [
    "build", "count_flops", "data", "deeplabv3_plus", "evaluation", "fcn", "get_encoder",
    "hrnet", "list_encoders", "list_models", "losses", "metrics", "postprocess", "predict_tiled",
    "pretrained", "prune", "training", "unet", "unet_3plus", "unet_plus_plus",
    "unet_input_size", "unet_output_size", "unfreeze_encoder", "__version__",
]
