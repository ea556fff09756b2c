"""Query strategies: which unlabelled rows of a pool to label next.

A strategy stores its settings in ``__init__``; ``strategy.query(X, labeled, n, ...)``
returns ``n`` distinct row indices of the pool ``X`` (labelled rows included), none
labelled or excluded, most useful first, vectorised over the pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from embkit.active._helpers import _positive_int

__all__ = [
    "EntropySampling",
    "LeastConfidence",
    "MarginSampling",
    "QueryStrategy",
    "RandomSampling",
    "make_strategy",
]


def _as_indices(value: Any, n_rows: int, name: str) -> np.ndarray:
    """Row indices (int64) from an index array or a boolean mask; clear errors otherwise."""
    if value is None:
        return np.empty(0, dtype=np.int64)
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n_rows,):
            raise ValueError(
                f"{name} as a boolean mask must have one entry per pool row ({n_rows}), "
                f"got shape {arr.shape}"
            )
        return np.flatnonzero(arr)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-d array of integer row indices or a boolean mask")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0 or arr.max() >= n_rows:
        raise ValueError(
            f"{name} holds row indices outside the pool: the pool has {n_rows} rows "
            f"(valid indices 0..{n_rows - 1}), got {int(arr.min())}..{int(arr.max())}"
        )
    return arr


#: The pool array a caller has checked already (see :func:`_checked_pool`).
_CHECKED: ContextVar[np.ndarray | None] = ContextVar("embkit_active_checked", default=None)


@contextmanager
def _checked_pool(X: np.ndarray) -> Iterator[np.ndarray]:
    """Inside the block, :func:`check_pool` returns this very array (an output of
    ``check_pool``) at once: the learner scans its pool once and passes it on to the
    strategy and the stopping criteria, which would each scan it again."""
    token = _CHECKED.set(X)
    try:
        yield X
    finally:
        _CHECKED.reset(token)


def check_pool(X: Any) -> np.ndarray:
    """The pool as a 2-d float array (float32 and float64 kept, no copy when possible)."""
    if X is not None and X is _CHECKED.get():  # checked by the caller (see _checked_pool)
        return X
    if hasattr(X, "toarray") or isinstance(X, (str, bytes)):
        raise TypeError("X must be a dense 2-d numeric array (embeddings), one row per text")
    arr = np.asarray(X)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"X must be a numeric array of embeddings, got dtype {arr.dtype}; encode the "
            "texts first (for example with SentenceEncoder(cache=...))"
        )
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-d (n_rows, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("the pool X is empty: there is nothing to query")
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("X holds NaN or infinite values")
    return arr


class QueryStrategy(BaseEstimator):
    """Base class of the query strategies (settings in ``__init__``, work in ``query``).

    Subclasses implement ``_select(X, candidates, labeled, n, estimator, y, rng)``, which
    returns ``n`` entries of ``candidates`` (the unlabelled, not excluded rows).
    """

    #: Whether ``query`` needs a fitted ``estimator`` with ``predict_proba``.
    needs_estimator: bool = False

    def query(
        self,
        X: Any,
        labeled: Any,
        n: int,
        *,
        estimator: Any = None,
        y: Any = None,
        exclude: Any = None,
        random_state: Any = None,
    ) -> np.ndarray:
        """Indices of ``n`` unlabelled rows of ``X`` to label next, most useful first.

        Parameters
        ----------
        X : array of shape (n_rows, n_features)
            The pool (embeddings), labelled rows included.
        labeled : array of int or bool mask
            Rows of ``X`` that already have a label.
        n : int
            How many rows to return; at most the number of rows left.
        estimator : fitted classifier, optional
            Needed by the uncertainty strategies (``predict_proba``, or
            ``decision_function`` turned into probabilities).
        y : array-like, optional
            The labels of ``labeled`` (used by :class:`ClassBalanced`).
        exclude : array of int or bool mask, optional
            Rows never to return (for example texts a person skipped).
        random_state : int, RandomState, Generator or None
            Seeds the random choices (and the order of exact ties).

        Returns
        -------
        ndarray of int64, shape (n,)
        """
        X = check_pool(X)
        labeled = _as_indices(labeled, X.shape[0], "labeled")
        exclude = _as_indices(exclude, X.shape[0], "exclude")
        _positive_int(n, "n")
        taken = np.zeros(X.shape[0], dtype=bool)
        taken[labeled] = True
        taken[exclude] = True
        candidates = np.flatnonzero(~taken)
        if n > candidates.size:
            raise ValueError(
                f"n={n} is larger than the {candidates.size} unlabelled rows left in the pool "
                f"({X.shape[0]} rows, {np.unique(labeled).size} labelled, "
                f"{np.setdiff1d(exclude, labeled).size} excluded)"
            )
        if y is not None:
            y = np.asarray(y)
            if y.shape[0] != labeled.shape[0]:
                raise ValueError(
                    f"y must hold one label per labelled row: {labeled.shape[0]} labelled "
                    f"rows, {y.shape[0]} labels"
                )
        if self.needs_estimator and estimator is None:
            raise ValueError(
                f"{type(self).__name__} needs a fitted estimator (estimator=...) to score the "
                "pool; use RandomSampling, CoreSet or KMeansSampling before one exists"
            )
        rng = _generator(random_state)
        picked = self._select(X, candidates, labeled, int(n), estimator, y, rng)
        return np.asarray(picked, dtype=np.int64)

    def _select(
        self,
        X: np.ndarray,
        candidates: np.ndarray,
        labeled: np.ndarray,
        n: int,
        estimator: Any,
        y: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _generator(random_state: Any) -> np.random.Generator:
    """A numpy Generator from any scikit-learn style seed (a Generator is used as is)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


class RandomSampling(QueryStrategy):
    """Rows drawn uniformly at random: the baseline every strategy must beat.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> picks = RandomSampling().query(X, labeled=[0, 1], n=3, random_state=0)
    >>> len(set(picks.tolist()) - {0, 1})
    3
    """

    def _select(self, X, candidates, labeled, n, estimator, y, rng):
        return rng.choice(candidates, size=n, replace=False)


def predict_proba(estimator: Any, X: np.ndarray) -> np.ndarray:
    """Class probabilities of ``X``: ``predict_proba``, else a softmax of the decision values."""
    if hasattr(estimator, "predict_proba"):
        try:
            return np.asarray(estimator.predict_proba(X), dtype=np.float64)
        except AttributeError:  # e.g. SVC(probability=False) exposes the method but refuses
            pass
    if not hasattr(estimator, "decision_function"):
        raise TypeError(
            f"the estimator {type(estimator).__name__} has neither predict_proba nor "
            "decision_function; uncertainty strategies need one of them"
        )
    scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    if scores.ndim == 1:  # binary: the positive class score
        scores = np.column_stack([-scores / 2, scores / 2])
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def top_n(candidates: np.ndarray, scores: np.ndarray, n: int, rng: np.random.Generator):
    """The ``n`` candidates of highest score, highest first; exact ties in a seeded order."""
    order = rng.permutation(scores.shape[0])
    best = np.argsort(-scores[order], kind="stable")[:n]  # stable: ties keep shuffled order
    return candidates[order[best]]


class _UncertaintySampling(QueryStrategy):
    """Rows whose predicted class distribution is the least certain (highest score)."""

    needs_estimator = True

    def scores(self, proba: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Uncertainty of each row from its class probabilities (higher: more uncertain)."""
        raise NotImplementedError

    def _proba(self, estimator: Any, X: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        # scoring the whole pool avoids copying most of it when most rows are candidates
        if candidates.size * 2 >= X.shape[0]:
            return predict_proba(estimator, X)[candidates]
        return predict_proba(estimator, X[candidates])

    def _select(self, X, candidates, labeled, n, estimator, y, rng):
        proba = self._proba(estimator, X, candidates)
        return top_n(candidates, self.scores(proba), n, rng)


class LeastConfidence(_UncertaintySampling):
    """Rows whose most probable class has the lowest probability (``1 - max p``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.linspace(-3, 3, 13).reshape(-1, 1)
    >>> clf = LogisticRegression().fit(X[[0, 12]], [0, 1])
    >>> LeastConfidence().query(X, labeled=[0, 12], n=1, estimator=clf).tolist()
    [6]
    """

    def scores(self, proba: np.ndarray) -> np.ndarray:
        return 1.0 - proba.max(axis=1)


class MarginSampling(_UncertaintySampling):
    """Rows with the smallest gap between the two most probable classes ("breaking ties").

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.linspace(-3, 3, 13).reshape(-1, 1)
    >>> clf = LogisticRegression().fit(X[[0, 12]], [0, 1])
    >>> sorted(MarginSampling().query(X, labeled=[0, 12], n=3, estimator=clf).tolist())
    [5, 6, 7]
    """

    def scores(self, proba: np.ndarray) -> np.ndarray:
        if proba.shape[1] < 2:
            return np.zeros(proba.shape[0])
        top2 = np.partition(proba, proba.shape[1] - 2, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])


class EntropySampling(_UncertaintySampling):
    """Rows whose predicted class distribution has the highest entropy.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.linspace(-3, 3, 13).reshape(-1, 1)
    >>> clf = LogisticRegression().fit(X[[0, 12]], [0, 1])
    >>> EntropySampling().query(X, labeled=[0, 12], n=1, estimator=clf).tolist()
    [6]
    """

    def scores(self, proba: np.ndarray) -> np.ndarray:
        p = np.clip(proba, 1e-12, 1.0)
        return -(proba * np.log(p)).sum(axis=1)


_NAMES = {
    "random": "RandomSampling",
    "least_confidence": "LeastConfidence",
    "margin": "MarginSampling",
    "entropy": "EntropySampling",
    "coreset": "CoreSet",
    "kmeans": "KMeansSampling",
}

#: Strategy names :func:`make_strategy` knows (``balanced-`` may prefix any of them).
STRATEGY_NAMES: tuple[str, ...] = tuple(_NAMES) + tuple(f"balanced-{n}" for n in _NAMES)


def make_strategy(name: str) -> QueryStrategy:
    """A strategy from its short name, as the command line spells it.

    ``random``, ``least_confidence``, ``margin``, ``entropy``, ``coreset``, ``kmeans``;
    ``balanced-NAME`` wraps NAME in :class:`ClassBalanced`.

    Examples
    --------
    >>> make_strategy("balanced-margin")
    ClassBalanced(strategy=MarginSampling())
    """
    import embkit.active as active

    if not isinstance(name, str):
        raise TypeError(f"a strategy name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    balanced = key.startswith("balanced_")
    key = key.removeprefix("balanced_")
    if key not in _NAMES:
        several = "; name several apart, not in one string" if "," in str(name) else ""
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGY_NAMES)}{several}")
    strategy = getattr(active, _NAMES[key])()
    return active.ClassBalanced(strategy) if balanced else strategy
