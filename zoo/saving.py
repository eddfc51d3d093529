"""Loading ``.keras`` files with errors that say what the file is: missing, not a Keras
archive, truncated, or holding a class no imported library registers."""

from __future__ import annotations

import zipfile
from pathlib import Path


def load_model(path, *, compile: bool = False, what: str = "model"):
    """``keras.saving.load_model(path)`` with zoo's layers registered; a missing file
    raises ``FileNotFoundError``, a file that is not a whole Keras archive (no zip, no
    ``config.json``, truncated) or holds unknown classes raises ``ValueError`` naming
    ``what`` and ``path``."""
    import keras

    from . import models  # noqa: F401  (registers zoo's layers and models)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    if path.suffix != ".keras":
        raise ValueError(f"{what} {path} is not a .keras file (Keras 3's format); save the "
                         "model with model.save('NAME.keras')")
    _check_archive(path, what)
    try:
        return keras.saving.load_model(path, compile=compile)
    except (TypeError, ValueError, KeyError, OSError) as error:
        missing = _missing_class(str(error))
        if missing:
            raise ValueError(f"{what} {path} holds the class {missing!r}, which no imported "
                             "library registers: import the library that defined it before "
                             "loading (zoo's classes register on import zoo)") from error
        raise ValueError(f"{what} {path} could not be loaded ({type(error).__name__}: "
                         f"{' '.join(str(error).split())[:300]})") from error


def _check_archive(path: Path, what: str) -> None:
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{what} {path} is not a Keras archive (not a zip file; truncated, "
                         "or another format renamed .keras); save it again with "
                         "model.save('NAME.keras')")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ValueError(f"{what} {path} is a zip file without config.json, not a "
                                 "Keras model archive; save the model with "
                                 "model.save('NAME.keras')")
            broken = archive.testzip()
    except zipfile.BadZipFile as error:
        raise ValueError(f"{what} {path} is a damaged zip file ({error}); save or copy it "
                         "again") from error
    if broken is not None:
        raise ValueError(f"{what} {path} is damaged ({broken} fails its checksum); save or "
                         "copy it again")


def _missing_class(message: str) -> str | None:
    marker = "Could not locate class '"
    start = message.find(marker)
    if start < 0:
        return None
    start += len(marker)
    return message[start:message.find("'", start)]
