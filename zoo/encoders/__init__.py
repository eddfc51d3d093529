"""Encoders by name. A new family is one module here plus one import line below."""

from ..registry import ENCODERS
from . import plain  # noqa: F401  (registers "plain" / "vanilla")
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


__all__ = ["EncoderFeatures", "EncoderSpec", "get_encoder", "list_encoders"]
