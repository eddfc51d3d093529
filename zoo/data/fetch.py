"""Downloading public data sets: pinned URLs, sha256 verification, resumable partial files."""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    sha256: str | None  # None: not pinned yet, needs allow_unverified


ISBI_BASE = "http://brainiac2.mit.edu/isbi_challenge/sites/default/files/"
DATASETS = {
    # The challenge's own files (the 30-slice volumes). Their checksums could not be
    # computed where this was written (no outside network), so they are not pinned.
    "isbi2012": tuple(RemoteFile(name, ISBI_BASE + name, None) for name in
                      ("train-volume.tif", "train-labels.tif", "test-volume.tif")),
}


def sha256_of(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_file(url: str, dest, sha256: str | None = None, *, timeout: float = 60.0,
               chunk: int = 1 << 16, verbose: bool = True) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file.

    A partial download continues with an HTTP Range request (from the start if
    the server ignores it). With ``sha256`` the file is verified before it is
    renamed into place; a mismatch deletes the partial file and raises
    ``ValueError``. An existing ``dest`` that verifies is kept as is.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    partial = dest.with_name(dest.name + ".part")
    start = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.URLError as error:
        raise ConnectionError(f"could not download {url}: {getattr(error, 'reason', error)}; "
                              "check the network or pass --base-url MIRROR (a partial file "
                              "resumes on the next run)") from error
    with response:
        resumed = start and response.status == 206
        mode = "ab" if resumed else "wb"
        total = response.headers.get("Content-Length")
        done = start if resumed else 0
        with open(partial, mode) as handle:
            for block in iter(lambda: response.read(chunk), b""):
                handle.write(block)
                done += len(block)
                if verbose:
                    size = f"/{int(total) + (start if resumed else 0)}" if total else ""
                    print(f"\r{dest.name}: {done}{size} bytes", end="", file=sys.stderr)
    if verbose:
        print(file=sys.stderr)
    if sha256 is not None:
        actual = sha256_of(partial)
        if actual != sha256:
            partial.unlink()
            raise ValueError(f"{dest.name}: sha256 {actual} does not match the pinned {sha256}; "
                             "the partial file was removed, run the command again")
    os.replace(partial, dest)
    return dest


def fetch(name: str, to=None, *, base_url: str | None = None, checksums: dict | None = None,
          allow_unverified: bool = False, **kwargs) -> list[Path]:
    """Download the files of data set ``name`` into folder ``to`` (default: the user
    cache, ``zoo.data.locate.cache_home() / name``, where ``zoo train`` finds it).

    ``base_url`` replaces the pinned URLs' folder (a mirror); ``checksums``
    ({file name: sha256}) adds or overrides pinned hashes. Files without a
    hash are refused unless ``allow_unverified``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; available: {', '.join(DATASETS)}")
    checksums = checksums or {}
    for remote in DATASETS[name]:
        if checksums.get(remote.name, remote.sha256) is None and not allow_unverified:
            raise ValueError(f"{remote.name} has no pinned sha256; pass its checksum "
                             f"(--sha256 {remote.name}=HEX) or --allow-unverified")
    if to is None:
        from .locate import cache_home

        to = cache_home() / name
    to = Path(to)
    created = [folder for folder in (to, *to.parents) if not folder.exists()]
    paths = []
    try:
        for remote in DATASETS[name]:
            url = base_url.rstrip("/") + "/" + remote.name if base_url else remote.url
            paths.append(fetch_file(url, to / remote.name,
                                    checksums.get(remote.name, remote.sha256), **kwargs))
    except BaseException:
        _remove_empty(to, created)
        raise
    return paths


def _remove_empty(to: Path, created: list[Path]) -> None:
    """After a failed fetch: drop empty partial files and the folders this fetch created,
    where nothing (no resumable partial download) is left in them."""
    for partial in to.glob("*.part") if to.is_dir() else ():
        if partial.stat().st_size == 0:
            partial.unlink()
    for folder in created:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty: a partial download to resume
            return
