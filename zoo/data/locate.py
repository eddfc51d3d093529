"""Where a named data set is: ``--data``, then ``$ZOO_DATA/NAME``, then the user cache.

``zoo data fetch NAME`` downloads into the cache (``$XDG_CACHE_HOME/unet-zoo`` or
``~/.cache/unet-zoo``), so a fetched data set is found with no flag at all;
``ZOO_DATA`` names a folder holding data sets by name (``$ZOO_DATA/isbi2012``),
e.g. a shared copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from .fetch import DATASETS

ENVIRONMENT = "ZOO_DATA"


def cache_home() -> Path:
    """The user cache where ``zoo data fetch`` puts data sets."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "unet-zoo"


def candidates(name: str) -> list[Path]:
    """The places searched for data set ``name``, in order."""
    places = []
    if os.environ.get(ENVIRONMENT):
        places.append(Path(os.environ[ENVIRONMENT]).expanduser() / name)
    places.append(cache_home() / name)
    return places


def locate(name: str, data=None) -> Path:
    """The folder of data set ``name``: ``data`` when given, else the first of
    :func:`candidates` that exists. A missing data set raises ``FileNotFoundError``
    naming where it was looked for and ``zoo data fetch``."""
    if data:
        return Path(data).expanduser()
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; the named ones are {', '.join(DATASETS)} "
                         "(any other folder: pass --data DIR)")
    for place in candidates(name):
        if place.is_dir():
            return place
    searched = " and ".join(str(p) for p in candidates(name))
    raise FileNotFoundError(f"data set {name} not found (looked in {searched}): run "
                            f"`zoo data fetch {name}`, set {ENVIRONMENT} to the folder holding "
                            f"{name}/, or pass --data DIR")
