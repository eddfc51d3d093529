"""Argument types the commands share: ``KEY=VALUE`` options."""

from __future__ import annotations

import argparse
import ast


def key_value(text: str) -> tuple[str, object]:
    """``"filters=16"`` -> ``("filters", 16)``; values are Python literals, else strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value

