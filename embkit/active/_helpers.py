"""Small helpers of the learner: pool fingerprint, seeds, parameter, criteria and label checks."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def _fingerprint(X: np.ndarray) -> str:
    """A cheap identity of a pool: its shape and a few evenly spaced rows."""
    rows = np.unique(np.linspace(0, X.shape[0] - 1, num=min(X.shape[0], 64)).astype(int))
    digest = hashlib.sha256(repr(X.shape).encode())
    digest.update(np.ascontiguousarray(X[rows], dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def _positive_int(value: Any, name: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        expected = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _check_criteria(stopping: Any) -> None:
    """A list (or tuple) of stopping criteria with ``update`` and ``get_params``, or None;
    their declared settings are checked now rather than after the first labels."""
    from sklearn.base import clone

    criteria = () if stopping is None else stopping
    if not isinstance(criteria, (list, tuple)) or not all(
        callable(getattr(c, "update", None)) and hasattr(c, "get_params") for c in criteria
    ):
        raise TypeError(
            "stopping must be a list of stopping criteria (with update(estimator, X)), "
            f"e.g. [StabilizingPredictions()]; got {stopping!r}"
        )
    for criterion in criteria:
        if hasattr(criterion, "_parameter_constraints"):
            clone(criterion)._validate_params()


def _seed(random_state: Any) -> int:
    """An int seed from any scikit-learn style random_state (a Generator is drawn from)."""
    from sklearn.utils import check_random_state

    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _sort_key(label: Any) -> tuple[str, Any]:
    return (type(label).__name__, label)


def _plain(labels: np.ndarray) -> np.ndarray:
    """Object labels as the plainest array numpy makes of them (str, int or float dtype)."""
    return np.asarray(labels.tolist())
