"""Loading ``.keras`` files with errors that say what the file is: missing, not a Keras
archive, truncated, or holding a class no imported library registers; saving files that
every Keras ``pyproject.toml`` admits can load."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

# Config keys a newer Keras writes that older admitted versions refuse as unknown
# arguments, each with the value that means "as before": the constructor arguments that
# keras.layers, .initializers, .metrics, .losses and .optimizers classes gained from
# Keras 3.12.0 (the floor) to 3.15.1, found by comparing their signatures. Keras promises
# that old files load in new versions, not the reverse.
NEWER_DEFAULTS = {
    "input_axes": None, "output_axes": None,  # the variance-scaling initializers
    "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99,  # BatchNormalization
    "quantization_config": None,  # Dense, EinsumDense, Embedding
    "use_gate": False, "sliding_window": None,  # the attention layers
    "salt": None, "oov_method": "floormod",  # the lookup layers
    "ignore_class": None,  # SparseCategoricalCrossentropy as a metric
    "native_serialization_platforms": None,  # JaxLayer
}


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


def is_model_source(path) -> bool:
    """Whether ``path`` names models for :func:`model_files`: a ``.keras`` file, a run
    folder or a k-fold run folder."""
    path = Path(path)
    return path.suffix == ".keras" or (path.is_dir() and (
        (path / "model.keras").is_file() or any(path.glob("fold-*"))))


def model_files(path) -> list[Path]:
    """The model files ``path`` names: a ``.keras`` file; a ``zoo train`` run folder (its
    ``model.keras``); or a k-fold run folder (``--folds K``: every ``fold-I/model.keras``,
    all K of them, in fold order), for an ensemble of its folds."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    if (path / "model.keras").is_file():
        return [path / "model.keras"]
    folds = sorted(path.glob("fold-*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit()
                   else -1)
    if not folds:
        raise FileNotFoundError(f"{path} is a folder holding neither model.keras (a zoo train "
                                "run) nor fold-*/ (a k-fold run); give a .keras file")
    expected = _fold_count(path) or len(folds)
    missing = [i for i in range(expected) if not (path / f"fold-{i}" / "model.keras").is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: fold(s) {missing} of {expected} have no model.keras "
                                f"yet; finish them (zoo train --out {path} --resume)")
    return [path / f"fold-{i}" / "model.keras" for i in range(expected)]


def _fold_count(path: Path) -> int | None:
    """K of a k-fold run folder, from its config.toml."""
    config = path / "config.toml"
    if not config.is_file():
        return None
    from .training.config import read_config

    return int(read_config(config).get("folds", 0)) or None


def save_portable(model, path) -> Path:
    """``model.save(path)``, then the archive's ``config.json`` without the keys of
    :data:`NEWER_DEFAULTS` where they hold their "as before" value, so that the file loads
    on the oldest Keras this package admits as well as the running one (Keras promises
    loading old files in new versions, not the reverse). The weights are untouched."""
    path = Path(path)
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            if info.filename == "config.json":
                data = json.dumps(_without_newer_defaults(json.loads(data))).encode()
            archive.writestr(info, data)
    return path


def _without_newer_defaults(config):
    if isinstance(config, dict):
        return {key: _without_newer_defaults(value) for key, value in config.items()
                if not (key in NEWER_DEFAULTS and value == NEWER_DEFAULTS[key])}
    if isinstance(config, list):
        return [_without_newer_defaults(value) for value in config]
    return config


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
