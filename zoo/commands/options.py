"""Argument types the commands share: ``KEY=VALUE`` options and positive counts."""

from __future__ import annotations

import argparse
import ast

from zoo import checks


def key_value(text: str) -> tuple[str, object]:
    """``"filters=16"`` -> ``("filters", 16)``; values are Python literals, else strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def positive_int(text: str) -> int:
    """An argparse type: ``zoo.checks.positive_int`` of the text (``--steps 0`` is
    refused, not run)."""
    try:
        return checks.positive_int(int(text), "the value")
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
