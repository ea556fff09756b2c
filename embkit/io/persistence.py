"""Safe persistence: ``embkit.save(obj, path)`` and ``embkit.load(path)``, no pickle involved.

A saved file is a zip archive of exactly three members: ``embkit.json`` (format, versions,
root class, SHA-256 and size of the others), ``object.json`` (the object tree as tagged
JSON, classes from a fixed allow-list) and ``tensors.safetensors`` (every array and tensor,
on the CPU). Loading reads JSON and safetensors only and refuses, with a ValueError that
says which, anything else: a foreign or damaged archive, a bad checksum, an unknown class
or tag, a missing or extra tensor, a newer format. Only :data:`SUPPORTED_CLASSES` are saved
(exactly, not subclasses); anything else is a TypeError at save time. The state protocol is
in :mod:`embkit.io.allowed_classes`; ``docs/reliability.md`` says what each estimator keeps.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from embkit.io.allowed_classes import SUPPORTED_CLASSES, _name_of
from embkit.io.tagged_json import FORMAT_VERSION, _Reader, _Writer

__all__ = ["FORMAT_VERSION", "SUPPORTED_CLASSES", "load", "save"]
FORMAT_NAME = "embkit"

_MANIFEST = "embkit.json"
_TREE = "object.json"
_TENSORS = "tensors.safetensors"
_MEMBERS = frozenset({_MANIFEST, _TREE, _TENSORS})
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed, so the same object gives the same bytes


def save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Save an estimator or pipeline to one file that :func:`load` reads without pickle.

    Parameters
    ----------
    obj : estimator
        An instance of one of :data:`SUPPORTED_CLASSES` (fitted or not), possibly nested
        in pipelines, feature unions and column transformers.
    path : str or path-like
        The file to write (``.embkit`` is a good suffix), written beside and renamed into
        place, so an interrupted save leaves no half-written file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        If ``obj`` or anything inside it is not of a type the format holds.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from embkit import FeedForwardTuner, load, save
    >>> X = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    >>> tuner = FeedForwardTuner(3, n_epochs=2, random_state=0).fit(X, X[:, 0] > 0)
    >>> path = save(tuner, tempfile.mkdtemp() + "/tuner.embkit")
    >>> np.array_equal(load(path).transform(X), tuner.transform(X))
    True
    """
    from safetensors.torch import save as save_tensors

    import embkit

    if _name_of(obj) is None:
        raise TypeError(
            f"obj must be an estimator of one of {list(SUPPORTED_CLASSES)}, got "
            f"{type(obj).__module__}.{type(obj).__qualname__}; use pickle or joblib for others"
        )
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or path-like), got {type(path).__name__}")
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a folder; give a file name, e.g. model.embkit")
    writer = _Writer()
    tree = json.dumps({"root": writer.value(obj, "obj")}, indent=1, allow_nan=False).encode()
    tensors = save_tensors(writer.tensors) if writer.tensors else save_tensors({})
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "embkit_version": embkit.__version__,
        "created_with": _versions(),
        "root_class": _name_of(obj),
        "files": {name: _digest(data) for name, data in ((_TREE, tree), (_TENSORS, tensors))},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, data, method in (
                (_MANIFEST, json.dumps(manifest, indent=1).encode(), zipfile.ZIP_DEFLATED),
                (_TREE, tree, zipfile.ZIP_DEFLATED),
                (_TENSORS, tensors, zipfile.ZIP_STORED),
            ):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = method
                zf.writestr(info, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
    }


def _digest(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _read_archive(path: Path) -> tuple[dict[str, Any], bytes, bytes]:
    source = str(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{source}: not a file written by embkit.save (not a zip archive)")
    try:
        manifest, tree, tensors = _read_members(path, source)
    # a damaged directory, header or compressed stream (a CRC error, bad deflate data)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
        raise ValueError(f"{source}: the archive is damaged ({exc})") from exc
    files = manifest.get("files")
    for name, data in ((_TREE, tree), (_TENSORS, tensors)):
        expected = files.get(name) if isinstance(files, dict) else None
        if expected != _digest(data):
            raise ValueError(
                f"{source}: checksum mismatch for {name}: the file was changed or damaged "
                "after it was saved; refusing to load it"
            )
    return manifest, tree, tensors


def _read_members(path: Path, source: str) -> tuple[dict[str, Any], bytes, bytes]:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if _MANIFEST not in names:
            raise ValueError(f"{source}: not a file written by embkit.save (no {_MANIFEST})")
        extra = sorted(set(names) - _MEMBERS)
        if extra or len(names) != len(set(names)):
            raise ValueError(
                f"{source}: unexpected members {extra or names!r} in the archive; refusing to "
                "load it"
            )
        try:
            manifest = json.loads(zf.read(_MANIFEST))
        except ValueError as exc:
            raise ValueError(f"{source}: the manifest is damaged ({exc})") from exc
        _check_manifest(manifest, source)
        missing = sorted(_MEMBERS - set(names))
        if missing:
            raise ValueError(f"{source}: members {missing!r} are missing; refusing to load it")
        return manifest, zf.read(_TREE), zf.read(_TENSORS)


def _check_manifest(manifest: Any, source: str) -> None:
    import embkit

    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ValueError(f"{source}: not a file written by embkit.save (unknown format)")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{source}: bad format version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{source} was written in embkit file format version {version} (by embkit "
            f"{manifest.get('embkit_version', '?')}); this embkit {embkit.__version__} reads "
            f"format versions up to {FORMAT_VERSION}: upgrade embkit to load it"
        )


def load(path: str | os.PathLike[str]) -> Any:
    """Load an estimator or pipeline written by :func:`save`; never unpickles anything.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`embkit.save`.

    Returns
    -------
    estimator
        The object saved; torch weights go to their saved device if available, else CPU.

    Raises
    ------
    ValueError
        If the file is not an embkit archive, was changed or damaged, names a class outside
        :data:`SUPPORTED_CLASSES`, or comes from a newer format version.
    FileNotFoundError
        If there is no such file.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.preprocessing import StandardScaler
    >>> from embkit import load, save
    >>> scaler = StandardScaler().fit([[0.0], [2.0]])
    >>> load(save(scaler, tempfile.mkdtemp() + "/scaler.embkit")).mean_.tolist()
    [1.0]
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or path-like), got {type(path).__name__}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    manifest, tree_bytes, tensor_bytes = _read_archive(path)
    source = str(path)
    try:
        tensors = load_tensors(tensor_bytes)
        tree = json.loads(tree_bytes)
    except (SafetensorError, ValueError, RecursionError) as exc:
        raise ValueError(f"{source}: damaged content ({exc}); refusing to load it") from exc
    if not isinstance(tree, dict) or set(tree) != {"root"}:
        raise ValueError(f"{source}: unexpected object tree; refusing to load it")
    reader = _Reader(tensors, source, manifest["format_version"])
    try:
        obj = reader.value(tree["root"])
    except RecursionError as exc:
        raise reader.error("the object tree is nested too deeply") from exc
    unused = sorted(set(tensors) - reader.used)
    if unused:
        raise reader.error(f"it holds tensors nothing refers to: {unused[:5]!r}")
    if _name_of(obj) is None:
        raise reader.error("its root is not an estimator")
    return obj


def _peek(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a saved file (checked, not loaded); for tools and tests."""
    return _read_archive(Path(path))[0]
