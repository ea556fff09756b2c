"""Roll an estimator back: a failed ``fit`` or ``partial_fit`` leaves it as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator


@contextmanager
def unchanged_on_error(obj: Any, *, deep: bool = False) -> Iterator[None]:
    """Undo every change made to ``obj``'s attributes if the block raises (anything).

    With ``deep=True`` the content of what training changes in place is restored too:
    network weights and buffers, optimiser state, numpy generators, arrays and lists, and
    the same for estimators held in attributes (an inner learner).
    """
    restore = _attributes(obj, deep=deep)
    try:
        yield
    except BaseException:
        restore()
        raise


def _attributes(obj: Any, *, deep: bool, seen: set[int] | None = None) -> Callable[[], None]:
    """A function that puts ``obj``'s attributes (with ``deep``, their content) back."""
    snapshot = obj.__dict__.copy()
    restores = []
    if deep:
        seen = set() if seen is None else seen
        seen.add(id(obj))
        # a network passed as a parameter (``model=``) is the caller's and never trained in
        # place: copying it would cost a body's weights, restoring it would write into it
        params = set(obj._get_param_names()) if isinstance(obj, BaseEstimator) else set()
        restores = [
            r
            for k, v in snapshot.items()
            if not (k in params and isinstance(v, torch.nn.Module))
            and (r := _snapshot(v, seen)) is not None
        ]

    def restore() -> None:
        obj.__dict__.clear()
        obj.__dict__.update(snapshot)
        for restore_value in restores:
            restore_value()

    return restore


def _clone_tree(value: Any) -> Any:
    """A copy of nested dicts and lists with every tensor cloned (an optimiser's state).

    Several times quicker than ``copy.deepcopy`` on an AdamW state, which rebuilds every
    tensor through its ``__deepcopy__``; values that are neither are immutable here.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clone_tree(v) for v in value)
    return value


def _snapshot(value: Any, seen: set[int]) -> Callable[[], None] | None:
    """A function that puts ``value``'s mutable content back as it is now (or ``None``).

    ``seen`` holds the objects already saved, so that a cycle of references ends.
    """
    if isinstance(value, _IMMUTABLE) or id(value) in seen:
        return None
    if isinstance(value, torch.nn.Module):
        saved = {k: v.detach().clone() for k, v in value.state_dict().items()}
        training = [m.training for m in value.modules()]

        def restore_module() -> None:
            with torch.no_grad():
                value.load_state_dict(saved)
            for m, mode in zip(value.modules(), training, strict=True):
                m.training = mode

        return restore_module
    if isinstance(value, torch.optim.Optimizer):
        saved_state = _clone_tree(value.state_dict())
        return lambda: value.load_state_dict(saved_state)
    if isinstance(value, np.random.Generator):
        rng_state = value.bit_generator.state
        return lambda: setattr(value.bit_generator, "state", rng_state)
    if isinstance(value, np.random.RandomState):  # e.g. MLPClassifier._random_state
        legacy_state = value.get_state()
        return lambda: value.set_state(legacy_state)
    if isinstance(value, np.ndarray) and value.flags.writeable:  # e.g. SGDClassifier.coef_
        saved_array = value.copy()
        return lambda: np.copyto(value, saved_array)
    if isinstance(value, BaseEstimator) or _is_sklearn_helper(value):
        return _attributes(value, deep=True, seen=seen)
    if isinstance(value, list | tuple):  # MLP's coefs_, a pipeline's (name, step) pairs
        seen.add(id(value))
        items = list(value)
        # a list of numbers (a loss curve, growing every call) holds nothing to restore;
        # a tuple is short and mixed (a pipeline's name, then its step): every item is seen
        scalars = isinstance(value, list) and (not items or isinstance(items[0], _IMMUTABLE))
        inner = [] if scalars else [r for v in items if (r := _snapshot(v, seen)) is not None]

        def restore_items() -> None:
            if isinstance(value, list):
                value[:] = items
            for restore_item in inner:
                restore_item()

        return restore_items if isinstance(value, list) or inner else None
    return None


_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), np.generic)


def _is_sklearn_helper(value: Any) -> bool:
    """A scikit-learn object that training changes, not an estimator (MLP's optimiser)."""
    module = type(value).__module__
    return (
        module.startswith("sklearn.") and hasattr(value, "__dict__") and not isinstance(value, type)
    )
