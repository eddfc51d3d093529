"""Name -> builder registries for models and encoders, with close-match hints."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any


class Registry:
    """Maps case-insensitive names and aliases to registered objects.

    ``get`` raises ``ValueError`` listing the closest registered names when a
    name is unknown, e.g. ``unknown model 'unte'; did you mean 'unet'?``.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[Any], Any]:
        """Decorator registering an object under ``name`` and ``aliases``."""

        def decorator(obj: Any) -> Any:
            self.add(name, obj, *aliases)
            return obj

        return decorator

    def add(self, name: str, obj: Any, *aliases: str) -> None:
        key = name.lower()
        for alias in (key, *aliases):
            alias = alias.lower()
            if alias in self._aliases:
                raise ValueError(f"{self.kind} name {alias!r} is already registered")
            self._aliases[alias] = key
        self._entries[key] = obj

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases."""
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {type(name).__name__}")
        key = name.strip().lower()
        if key in self._aliases:
            return self._aliases[key]
        close = dict.fromkeys(  # canonical names of the closest aliases, best first
            self._aliases[a] for a in difflib.get_close_matches(key, list(self._aliases),
                                                                n=6, cutoff=0.5))
        close = list(close)[:3]
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
        raise ValueError(
            f"unknown {self.kind} {name!r}{hint} Registered: {', '.join(self.names())}"
        )

    def get(self, name: str) -> Any:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def aliases(self, name: str) -> list[str]:
        key = self.canonical(name)
        return sorted(a for a, k in self._aliases.items() if k == key and a != key)

    def __contains__(self, name: str) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._aliases


MODELS = Registry("model")
ENCODERS = Registry("encoder")
