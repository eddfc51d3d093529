"""Writing files whole: readers (and a resumed run) see the old file or the new one,
never half of one."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def write_atomic(path, writer: Callable[[Path], object]) -> Path:
    """``writer(tmp)`` writes a hidden file beside ``path`` (same suffix, so writers that
    choose a format by it work), which then replaces ``path``. If ``writer`` fails, the
    temporary file is removed and ``path`` is left as it was. A directory (a SavedModel)
    is written the same way; the old one is removed just before the rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    _remove(tmp)
    try:
        writer(tmp)
        if tmp.is_dir():
            _remove(path)  # os.replace cannot put a directory over another
        os.replace(tmp, path)
    finally:
        _remove(tmp)
    return path


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def write_json_atomic(path, data, *, indent: int = 2) -> Path:
    """``data`` as JSON (numpy scalars as floats), written whole."""
    text = json.dumps(data, indent=indent, default=float) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text))
