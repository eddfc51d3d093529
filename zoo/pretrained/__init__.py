"""Trained checkpoints shipped with the package, each with its model card.

    import zoo
    zoo.pretrained.list()                          # ['isbi2012/unet-quick', ...]
    model = zoo.pretrained.load("isbi2012/unet-quick")
    zoo.pretrained.card("isbi2012/unet-quick")     # data, command, scores, machine, sha256

From the command line, ``zoo predict --pretrained NAME INPUT --out DIR`` applies the
card's inference settings (tiles, test-time augmentation, watershed). A checkpoint is
``NAME.keras`` beside ``NAME.json`` (the card as data) and ``NAME.md`` (the card to
read); :func:`zoo.pretrained.cards.shelve` writes all three from a finished run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SHELF = Path(__file__).parent


def list() -> list[str]:  # noqa: A001  (zoo.pretrained.list(), as torch.hub.list)
    """The names of the shipped checkpoints, e.g. ``isbi2012/unet-quick``."""
    return sorted(f"{p.parent.name}/{p.stem}" for p in SHELF.glob("*/*.json"))


def card(name: str) -> dict:
    """The model card of checkpoint ``name`` (unknown names list the shelf)."""
    path = _path(name, ".json")
    return json.loads(path.read_text())


def path(name: str) -> Path:
    """The ``.keras`` file of checkpoint ``name``, checked against its card's sha256."""
    about = card(name)
    file = _path(name, ".keras")
    digest = sha256(file)
    if digest != about["sha256"]:
        raise ValueError(f"{file} does not match its card (sha256 {digest[:12]}... against "
                         f"{about['sha256'][:12]}...); reinstall unet-zoo")
    return file


def load(name: str):
    """Checkpoint ``name`` as a ``keras.Model`` (float32, any image size its card allows),
    on any Keras backend."""
    from ..saving import load_model

    return load_model(path(name), what=f"pretrained model {name!r}")


def sha256(file) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _path(name: str, suffix: str) -> Path:
    names = list()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=3)
        raise ValueError(f"no pretrained model {name!r}"
                         + (f"; did you mean {', '.join(close)}?" if close else "")
                         + f" The shelf: {', '.join(names) or 'empty'}")
    return SHELF / f"{name}{suffix}"
