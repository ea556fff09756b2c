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
import math
import os
import platform
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT_VERSION", "SUPPORTED_CLASSES", "load", "save"]

FORMAT_NAME = "embkit"
#: The format version this embkit writes (and the newest it reads).
FORMAT_VERSION = 2

_MANIFEST = "embkit.json"
_TREE = "object.json"
_TENSORS = "tensors.safetensors"
_MEMBERS = frozenset({_MANIFEST, _TREE, _TENSORS})
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed, so the same object gives the same bytes

# numpy dtypes stored as tensors; other arrays (strings, objects, rare ints) go to JSON
_TENSOR_DTYPES = frozenset({"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "b1"})

# Classes from scikit-learn that the format holds: public name -> (module, attribute).
_SKLEARN_CLASSES: dict[str, tuple[str, str]] = {
    f"{module}.{attr}": (module, attr)
    for module, attr in [
        ("sklearn.pipeline", "Pipeline"),
        ("sklearn.pipeline", "FeatureUnion"),
        ("sklearn.compose", "ColumnTransformer"),
        ("sklearn.frozen", "FrozenEstimator"),
        ("sklearn.preprocessing", "StandardScaler"),
        ("sklearn.preprocessing", "Normalizer"),
        # only without functions: a callable is not a value the format can hold
        ("sklearn.preprocessing", "FunctionTransformer"),
        ("sklearn.decomposition", "PCA"),
        ("sklearn.linear_model", "LogisticRegression"),
        ("sklearn.linear_model", "SGDClassifier"),
    ]
}
# Attributes of foreign classes that hold compiled objects: dropped on save, rebuilt on load.
_REBUILT: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "sklearn.linear_model.SGDClassifier": (
        "_loss_function_",
        lambda est: est._get_loss_function(est.loss),
    ),
}


def _embkit_classes() -> dict[str, tuple[str, str]]:
    """Every public embkit estimator class, from the package's own export table.

    Estimators live in the families (encoders, tuning, heads, streaming, ...); ``embkit.io``
    holds none (the cache is a value of its own), and functions and warnings are not classes
    this format builds.
    """
    import embkit

    return {
        f"embkit.{name}": (module, name)
        for name, module in embkit._EXPORTS.items()
        if name[:1].isupper() and not name.endswith("Warning") and ".io." not in module
    }


_CLASSES: dict[str, tuple[str, str]] = {**_embkit_classes(), **_SKLEARN_CLASSES}

#: Public names of the classes :func:`save` writes and :func:`load` builds.
SUPPORTED_CLASSES: tuple[str, ...] = tuple(_CLASSES)


def _class(name: str) -> type | None:
    """The class behind an allow-listed name (``None`` when its module is not installed)."""
    import importlib

    module, attr = _CLASSES[name]
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None
    return cls if isinstance(cls, type) else None


def _name_of(obj: Any) -> str | None:
    """The allow-listed name of ``type(obj)`` exactly (a subclass has none)."""
    cls = type(obj)
    for name, (_module, attr) in _CLASSES.items():
        if cls.__qualname__ == attr and _class(name) is cls:
            return name
    return None


def _saved_state(est: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The protocol: an estimator's ``(values, weights)``; plain ones give their pickle state."""
    getter = getattr(est, "_get_saved_state", None)
    if getter is not None:
        return getter()
    values = dict(est.__getstate__())
    rebuilt = _REBUILT.get(_name_of(est))
    if rebuilt is not None:
        values.pop(rebuilt[0], None)
    return values, {}


def _restore_state(obj: Any, name: str, values: dict[str, Any], weights: dict[str, Any]) -> None:
    """Apply the protocol's ``(values, weights)`` to a bare instance of ``name``."""
    setter = getattr(obj, "_set_saved_state", None)
    if setter is not None:
        setter(values, weights)
        return
    if weights:
        raise ValueError(f"a {name} holds no weights, the file gives {sorted(weights)}")
    obj.__setstate__(values)
    rebuilt = _REBUILT.get(name)
    if rebuilt is not None and "coef_" in values:
        setattr(obj, rebuilt[0], rebuilt[1](obj))


# ------------------------------------------------------------------------------ saving
class _Writer:
    """Turns an object tree into tagged JSON plus a dict of CPU tensors."""

    def __init__(self) -> None:
        self.tensors: dict[str, Any] = {}

    def tensor(self, value: Any) -> str:
        key = f"t{len(self.tensors)}"
        self.tensors[key] = value.detach().to("cpu", copy=True).contiguous()
        return key

    def value(self, v: Any, where: str) -> Any:
        import torch

        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and not isinstance(v, np.integer):
            return v
        if isinstance(v, float) and not isinstance(v, np.floating):
            return v if math.isfinite(v) else {"__float__": repr(v)}
        if isinstance(v, np.ndarray):
            return self.array(v, where)
        if isinstance(v, np.generic):
            if v.dtype.kind not in "biufU":
                raise TypeError(f"cannot save {where}: numpy scalar of dtype {v.dtype}")
            return {"__npscalar__": [v.dtype.str, self.value(v.item(), where)]}
        if isinstance(v, torch.Tensor):
            return {"__tensor__": self.tensor(v)}
        if isinstance(v, torch.device):
            return {"__device__": str(v)}
        if isinstance(v, np.random.Generator):
            return {"__generator__": self.value(v.bit_generator.state, where)}
        if isinstance(v, np.random.RandomState):
            _, key, pos, has_gauss, gauss = v.get_state(legacy=True)
            state = [key.tolist(), int(pos), int(has_gauss), float(gauss)]
            return {"__randomstate__": state}
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in v):
                return {k: self.value(x, f"{where}[{k!r}]") for k, x in v.items()}
            items = [[self.value(k, where), self.value(x, f"{where}[{k!r}]")] for k, x in v.items()]
            return {"__dict__": items}
        if isinstance(v, slice):
            return {"__slice__": [self.value(p, where) for p in (v.start, v.stop, v.step)]}
        if isinstance(v, Path):
            return {"__path__": str(v)}
        from embkit.io.cache import EmbeddingCache

        if isinstance(v, EmbeddingCache):
            return {"__cache__": str(v.path)}
        if _name_of(v) is not None:
            return self.estimator(v, where)
        raise TypeError(
            f"cannot save {where}: a {type(v).__module__}.{type(v).__qualname__} is not among "
            f"the types embkit.save writes (estimators of embkit.io.persistence.SUPPORTED_CLASSES, "
            "numbers, strings, arrays, lists, dicts); use pickle or joblib for this object"
        )

    def array(self, a: np.ndarray, where: str) -> dict[str, Any]:
        dtype = a.dtype
        spec: dict[str, Any] = {"dtype": dtype.str, "shape": list(a.shape)}
        if dtype.kind in "biuf" and dtype.str[1:] in _TENSOR_DTYPES:
            import torch

            native = np.array(a, dtype=dtype.newbyteorder("="), order="C", copy=True)
            spec["tensor"] = self.tensor(torch.from_numpy(native))
            spec["fortran"] = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
        elif dtype.kind in "biufUO":
            spec["items"] = [self.value(x, f"{where}[...]") for x in a.ravel().tolist()]
        else:
            raise TypeError(f"cannot save {where}: numpy array of dtype {dtype}")
        return {"__ndarray__": spec}

    def estimator(self, est: Any, where: str) -> dict[str, Any]:
        try:
            values, weights = _saved_state(est)
        except TypeError as exc:
            raise TypeError(f"cannot save {where}: {exc}") from exc
        node: dict[str, Any] = {"class": _name_of(est)}
        if weights:
            node["weights"] = {
                part: {k: self.tensor(t) for k, t in state_dict.items()}
                for part, state_dict in weights.items()
            }
        node["state"] = {k: self.value(v, f"{where}.{k}") for k, v in values.items()}
        return {"__estimator__": node}


def json_value(value: Any, where: str) -> Any:
    """``value`` as tagged JSON alone (no tensor store), e.g. estimator parameters.

    Keeps what plain JSON loses: dict keys that are not strings, tuples, numpy scalars,
    ``RandomState`` and ``Generator`` states. A TypeError names ``where`` for a value that
    needs the tensor store (a numeric array) or that :func:`save` cannot write.
    """
    writer = _Writer()
    out = writer.value(value, where)
    if writer.tensors:
        raise TypeError(f"cannot write {where} as JSON alone: it holds a numeric array")
    return out


def from_json_value(data: Any, source: str) -> Any:
    """The value :func:`json_value` wrote; a ValueError naming ``source`` for anything else."""
    return _Reader({}, source).value(data)


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


# ----------------------------------------------------------------------------- loading
class _Reader:
    """Builds objects back from tagged JSON and the loaded tensors; refuses anything else."""

    def __init__(
        self, tensors: dict[str, Any], source: str, format_version: int = FORMAT_VERSION
    ) -> None:
        self.tensors = tensors
        self.used: set[str] = set()
        self.source = source
        self.format_version = format_version

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.source}: {message}; refusing to load it")

    def tensor(self, key: Any) -> Any:
        if not isinstance(key, str) or key not in self.tensors:
            raise self.error(f"it refers to a tensor {key!r} that is not stored")
        if key in self.used:
            raise self.error(f"tensor {key!r} is referred to twice")
        self.used.add(key)
        return self.tensors[key]

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            raise self.error(f"unexpected JSON value of type {type(v).__name__}")
        if len(v) == 1:
            ((tag, body),) = v.items()
            if tag.startswith("__"):
                handler = self._TAGS.get(tag)
                if handler is None:
                    raise self.error(f"unknown value tag {tag!r}")
                try:
                    return handler(self, body)
                except ValueError as exc:
                    if str(exc).startswith(self.source):
                        raise
                    raise self.error(f"bad {tag} value ({exc})") from exc
                except (TypeError, KeyError, IndexError, AttributeError) as exc:
                    raise self.error(f"bad {tag} value ({exc!r})") from exc
        if any(k.startswith("__") for k in v):
            raise self.error(f"unexpected keys {sorted(v)!r}")
        return {k: self.value(x) for k, x in v.items()}

    def _float(self, body: Any) -> float:
        if body not in ("nan", "inf", "-inf"):
            raise self.error(f"bad float {body!r}")
        return float(body)

    def _npscalar(self, body: Any) -> Any:
        dtype = _dtype(body[0], "biufU")
        return dtype.type(self.value(body[1]))

    def _ndarray(self, body: Any) -> np.ndarray:
        dtype = _dtype(body["dtype"], "biufUO")
        shape = tuple(int(n) for n in body["shape"])
        if "tensor" in body:
            t = self.tensor(body["tensor"])
            arr = t.numpy()
            if arr.dtype != dtype.newbyteorder("=") or arr.shape != shape:
                raise self.error(f"tensor {body['tensor']!r} does not match its dtype and shape")
            arr = arr.astype(dtype, copy=True)
            return np.asfortranarray(arr) if body.get("fortran") else arr
        items = [self.value(x) for x in body["items"]]
        if len(items) != math.prod(shape):
            raise self.error(f"array of shape {shape} holds {len(items)} items")
        if dtype.kind == "O":
            arr = np.empty(len(items), dtype=object)
            arr[:] = items
            return arr.reshape(shape)
        return np.array(items, dtype=dtype).reshape(shape)

    def _generator(self, body: Any) -> np.random.Generator:
        state = self.value(body)
        if state.get("bit_generator") != "PCG64":
            raise self.error(f"unknown bit generator {state.get('bit_generator')!r}")
        gen = np.random.Generator(np.random.PCG64())
        gen.bit_generator.state = state
        return gen

    def _randomstate(self, body: Any) -> np.random.RandomState:
        key, pos, has_gauss, gauss = body
        rs = np.random.RandomState()
        rs.set_state(("MT19937", np.asarray(key, dtype=np.uint32), pos, has_gauss, gauss))
        return rs

    def _device(self, body: Any) -> Any:
        from embkit._core.device import loadable_device

        return loadable_device(str(body))

    def _cache(self, body: Any) -> Any:
        from embkit.io.cache import EmbeddingCache

        return EmbeddingCache(str(body))

    def _estimator(self, node: Any) -> Any:
        name = node["class"]
        if not isinstance(name, str) or name not in _CLASSES:
            raise self.error(f"unknown class {name!r} (known: {list(SUPPORTED_CLASSES)})")
        cls = _class(name)
        if cls is None:
            raise self.error(f"class {name!r} is not available in this installation")
        node = _from_format_1(node) if self.format_version == 1 else node
        unknown = set(node) - {"class", "state", "weights"}
        if unknown:
            raise self.error(f"unexpected keys {sorted(unknown)!r} in a {name}")
        values = self.value(node["state"])
        if not isinstance(values, dict):
            raise self.error(f"the state of a {name} is not a mapping")
        parts = node.get("weights", {})
        if not isinstance(parts, dict):
            raise self.error(f"the weights of a {name} are not a mapping")
        weights = {str(part): self._state_dict(refs) for part, refs in parts.items()}
        obj = cls.__new__(cls)
        try:
            _restore_state(obj, name, values, weights)
        except (RuntimeError, KeyError, AttributeError, TypeError, ValueError) as exc:
            if str(exc).startswith(self.source):
                raise
            raise self.error(f"the weights do not fit the {name} ({exc})") from exc
        return obj

    def _state_dict(self, refs: Any) -> dict[str, Any]:
        if not isinstance(refs, dict):
            raise self.error("weights must be a mapping of names to tensors")
        return {str(k): self.tensor(key) for k, key in refs.items()}

    _TAGS: dict[str, Callable[[_Reader, Any], Any]] = {
        "__float__": _float,
        "__npscalar__": _npscalar,
        "__ndarray__": _ndarray,
        "__tensor__": lambda self, body: self.tensor(body),
        "__device__": _device,
        "__generator__": _generator,
        "__randomstate__": _randomstate,
        "__tuple__": lambda self, body: tuple(self.value(x) for x in body),
        "__dict__": lambda self, body: {self.value(k): self.value(x) for k, x in body},
        "__slice__": lambda self, body: slice(*(self.value(p) for p in body)),
        "__path__": lambda self, body: Path(str(body)),
        "__cache__": _cache,
        "__estimator__": _estimator,
    }


def _from_format_1(node: dict[str, Any]) -> dict[str, Any]:
    """A format-1 estimator node in today's layout (weights under ``weights``)."""
    node = dict(node)
    weights = {}
    if "module" in node:
        weights["module_"] = node.pop("module")
    for part in ("model_", "head_"):
        if part in node:
            weights[part] = node.pop(part)
    if "optimizer" in node and isinstance(node.get("state"), dict):
        node["state"] = {**node["state"], "optimizer_": node.pop("optimizer")}
    if weights:
        node["weights"] = weights
    return node


def _dtype(text: Any, kinds: str) -> np.dtype:
    if not isinstance(text, str) or len(text) > 8:
        raise ValueError(f"bad dtype {text!r}")
    dtype = np.dtype(text)
    if dtype.kind not in kinds:
        raise ValueError(f"dtype {text!r} is not allowed here")
    return dtype


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
