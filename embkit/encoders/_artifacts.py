"""Folders built once from a model (ONNX exports, static models): named by a hash of what
decides their files, built beside their place and renamed into it, safe when processes race."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embkit._core.models import downloads_allowed, load_error, local_folder


def artifact_dir(kind: str) -> Path:
    """Where embkit keeps what it builds from a model, by ``kind`` ("onnx", "static").

    ``$EMBKIT_CACHE_DIR/<kind>`` if that variable is set, otherwise
    ``$XDG_CACHE_HOME/embkit/<kind>`` (``~/.cache/embkit/<kind>`` by default).

    Examples
    --------
    >>> artifact_dir("onnx").name
    'onnx'
    """
    root = os.environ.get("EMBKIT_CACHE_DIR")
    if root:
        return Path(root).expanduser() / kind
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "embkit" / kind


def keyed_folder(root: Path, model: Any, resolved: str, provenance: dict[str, Any]) -> Path:
    """``root`` / 24 hex digits of BLAKE2b over ``provenance`` (sorted JSON); offline, a clear
    error when ``model`` (resolved to ``resolved``), the source of the folder, is not on disk."""
    if local_folder(resolved) is None and not downloads_allowed():
        raise load_error(model, resolved, FileNotFoundError("no such local model"))
    digest = hashlib.blake2b(json.dumps(provenance, sort_keys=True).encode(), digest_size=12)
    return root / digest.hexdigest()


@contextmanager
def building(folder: Path, intact: Callable[[Path], bool], announce: str | None) -> Iterator[Path]:
    """A new temporary folder beside ``folder``, renamed to ``folder`` when the block ends.

    ``announce`` (what is built) goes to stderr first. If the atomic rename fails and
    ``intact(folder)``, another process got there first and its folder is kept. The
    temporary folder never outlives the block, which may raise.
    """
    if announce:
        print(f"embkit: {announce}, once (stored in {folder})", file=sys.stderr, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, folder)  # atomic; fails if another process got there first
        except OSError:
            if not intact(folder):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (POSIX; elsewhere the rename alone)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
