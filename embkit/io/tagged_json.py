"""Tagged JSON: the value format of :func:`embkit.save` files.

Plain JSON plus tags for what it cannot hold (``{"__ndarray__": ...}``, ``{"__tuple__": ...}``,
``{"__estimator__": ...}``, ...). The writer puts numeric arrays and tensors in a separate
tensor store and refers to them by key; the reader builds values back and refuses any tag,
class or reference it does not know, so reading never runs code named by a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from embkit.io.allowed_classes import (
    _CLASSES,
    SUPPORTED_CLASSES,
    _class,
    _name_of,
    _restore_state,
    _saved_state,
)

#: The layout of the object tree this embkit writes (and the newest it reads).
FORMAT_VERSION = 2

# numpy dtypes stored as tensors; other arrays (strings, objects, rare ints) go to JSON
_TENSOR_DTYPES = frozenset({"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "b1"})


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
