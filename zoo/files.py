"""Writing files whole: readers (and a resumed run) see the old file or the new one,
never half of one."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def write_atomic(path, writer: Callable[[Path], object]) -> Path:
    """``writer(tmp)`` writes a hidden file beside ``path`` (same suffix, so writers that
    choose a format by it work), which then replaces ``path``. If ``writer`` fails, the
    temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path, data, *, indent: int = 2) -> Path:
    """``data`` as JSON (numpy scalars as floats), written whole."""
    text = json.dumps(data, indent=indent, default=float) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text))
