"""Safe persistence: ``embkit.save(obj, path)`` and ``embkit.load(path)``, no pickle involved.

A saved file is one zip archive holding exactly three members:

* ``embkit.json`` - the manifest: format name, format version, the embkit (and numpy,
  scikit-learn, torch) versions that wrote it, the root class, and the SHA-256 and size of
  the two other members;
* ``object.json`` - the object tree: for every estimator its class (a name from a fixed
  allow-list) and its attributes (parameters and fitted state) as tagged JSON values;
* ``tensors.safetensors`` - every numeric array and torch tensor, on the CPU.

Loading reads JSON and safetensors only, so it never runs code from the file. It refuses
a file that is not an archive written by :func:`save`, a member that is missing or extra,
a checksum that does not match, a class name or value tag it does not know, a tensor that
is missing, extra or of the wrong shape, and a format version newer than this embkit
reads, each with a :class:`ValueError` that says which. Checksums catch damage and casual
editing, not a determined forger; safety against code execution comes from the format
itself (data only, allow-listed classes built without calling anything the file names).

Only the classes in :data:`SUPPORTED_CLASSES` are saved, exactly those classes and not
subclasses; anything else (a callable in a ``FunctionTransformer``, a user class, a
``SentenceTransformer`` object passed as ``model=``) is a :class:`TypeError` at save time
that names where it sits, and pickle or joblib remain the way to save it.

What an estimator keeps is its own to say, through a method pair (the protocol):
``_get_saved_state()`` returns ``(values, weights)``, the attributes to store as tagged
JSON and the named torch state dicts to store as tensors, and ``_set_saved_state(values,
weights)`` restores them onto a bare instance (``cls.__new__(cls)``). A class without the
pair keeps its pickle state (``__getstate__`` / ``__setstate__``). The allow-list is every
public estimator class of ``embkit`` and a fixed set of scikit-learn classes.

What each embkit estimator keeps:

* text encoders keep their model name or folder and settings, never the pretrained
  weights; they reload the model offline on first use, as an unpickled encoder does;
* the numeric tuners, learners and heads keep their network weights and optimiser state,
  so ``partial_fit`` after loading continues exactly where it stopped;
* ``SbertLearner``, ``SbertTuner`` and ``FineTuneClassifier`` keep their tuned weights (and
  start from the model they name when loading); like their pickles, they do not keep the
  optimiser state.

Tensors are stored on the CPU; a model saved on a GPU loads onto the same device when it
is available here and onto the CPU otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import zipfile
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
        An instance of one of :data:`SUPPORTED_CLASSES` (fitted or not); pipelines,
        feature unions and column transformers may nest any of them.
    path : str or path-like
        The file to write (any name; ``.embkit`` is a good suffix). Parent folders are
        created. The file is written next to ``path`` and then renamed, so an interrupted
        save never leaves a half-written file behind.

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
        except (ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{source}: the manifest is damaged ({exc})") from exc
        _check_manifest(manifest, source)
        missing = sorted(_MEMBERS - set(names))
        if missing:
            raise ValueError(f"{source}: members {missing!r} are missing; refusing to load it")
        try:
            tree, tensors = zf.read(_TREE), zf.read(_TENSORS)
        except (zipfile.BadZipFile, OSError) as exc:  # a CRC error in a damaged file
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
        The object that was saved; torch weights go to the device they were saved from
        when it is available here, else to the CPU.

    Raises
    ------
    ValueError
        If the file is not an embkit archive, was changed or damaged after saving (a
        checksum mismatch, a missing or extra member), names a class outside
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
