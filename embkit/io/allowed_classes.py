"""What :func:`embkit.save` may write: the allow-list of classes and the state protocol.

An estimator's ``_get_saved_state()`` returns ``(values, weights)``: attributes to store as
tagged JSON and named torch state dicts to store as tensors; ``_set_saved_state(values,
weights)`` restores them onto ``cls.__new__(cls)``. A class without the pair keeps its
pickle state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    """Every public embkit estimator class, from ``embkit._EXPORTS`` (no io class, warning
    or function)."""
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
