"""Encoders by name. A new family is one module here plus one import line below."""

from ..registry import ENCODERS
from . import applications, plain  # noqa: F401  (registration)
from .base import EncoderFeatures, EncoderSpec


def get_encoder(name: str) -> EncoderSpec:
    """The registered encoder ``name`` (or alias); unknown names suggest close matches."""
    return ENCODERS.get(name)


def list_encoders() -> dict[str, dict]:
    """``{name: {"channels": {stride: C}, "input_range": (lo, hi), "aliases": [...]}}``."""
    return {
        name: {
            "channels": dict(spec.channels),
            "input_range": spec.input_range,
            "aliases": ENCODERS.aliases(name),
            "description": spec.description,
        }
        for name in ENCODERS.names()
        for spec in [ENCODERS.get(name)]
    }


def dilatable_encoders() -> list[str]:
    """Encoders that can dilate their deepest stages (``output_stride``, DeepLab)."""
    return [name for name in ENCODERS.names() if ENCODERS.get(name).output_strides]


def set_encoder_trainable(model, trainable: bool) -> None:
    """Freeze (``False``) or unfreeze the encoder of a zoo model, in place.

    The encoder is the nested ``encoder`` sub-model of every zoo model, so this
    is ``model.get_layer("encoder").trainable = trainable``; the fixed input
    normalisation has no weights. A frozen Keras 3 ``BatchNormalization`` runs in
    inference mode. Recompile the model after changing this.
    """
    names = {layer.name for layer in model.layers}
    if "encoder" not in names:
        raise ValueError(f"model {model.name!r} has no nested 'encoder' sub-model: it was not "
                         "built by the zoo's model pipeline (zoo.build)")
    model.get_layer("encoder").trainable = trainable


def unfreeze_encoder(model) -> None:
    """Make the encoder trainable again for fine-tuning (then recompile)."""
    set_encoder_trainable(model, True)


__all__ = ["EncoderFeatures", "EncoderSpec", "dilatable_encoders", "get_encoder", "list_encoders",
           "set_encoder_trainable", "unfreeze_encoder"]
