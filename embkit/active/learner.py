"""ActiveLearner: the query / teach loop around any scikit-learn classifier."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from embkit.active._helpers import _check_criteria, _fingerprint, _plain, _positive_int, _seed
from embkit.active.strategies import (
    MarginSampling,
    QueryStrategy,
    _as_indices,
    _checked_pool,
    check_pool,
    make_strategy,
)

__all__ = ["ActiveLearner"]


class ActiveLearner(BaseEstimator):
    """Choose which texts to label next, learn from the answers, know when to stop.

    The pool ``X`` (embeddings) is passed to every call, not stored, and must be the same
    each time (checked by shape and fingerprint). ``query(X)`` gives rows to label,
    ``teach(X, idx, labels)`` updates the model. The ``initial`` strategy picks rows until
    ``n_initial`` are labelled and a model exists; then ``strategy``, with the model.

    Parameters
    ----------
    estimator : classifier
        Any scikit-learn classifier (or pipeline ending in one), updated with one
        ``partial_fit`` pass per batch (see ``update``) or a clone refitted on all labels.
    strategy : QueryStrategy or str, default=None
        How to query once a model exists (a name as :func:`make_strategy` spells it);
        ``None`` means :class:`MarginSampling`.
    initial : {"random", "kmeans", "coreset"} or QueryStrategy, default="random"
        How to pick the seed set (no model needed).
    n_initial : int, default=10
        Size of the seed set: the first :meth:`query` returns this many rows.
    batch_size : int, default=10
        Rows per later query.
    budget : int or None, default=None
        Stop after this many labels (skipped rows do not count); at most the pool size.
    classes : array-like or None, default=None
        Every label there will be (needed for ``partial_fit``); others are refused.
    update : {"auto", "partial_fit", "refit"}, default="auto"
        ``"auto"``: ``partial_fit`` when the estimator has it and ``classes`` is given,
        refit otherwise.
    stopping : sequence of criteria or None, default=None
        For example ``[StabilizingPredictions()]``; cloned at the start.
    random_state : int, RandomState, Generator or None, default=None
        Seeds every random choice of the loop (seed set, strategies, criteria samples).

    Attributes
    ----------
    labeled_ : ndarray of int64
        Pool rows labelled so far, in the order they were taught.
    labels_ : ndarray
        Their labels.
    skipped_ : ndarray of int64
        Rows never to query again (see :meth:`skip`).
    estimator_ : classifier or None
        The model trained on the labels (None until it can be fitted).
    classes_ : ndarray
        ``classes`` when given, else the labels seen so far; sorted as the estimator
        sorts them (the columns of :meth:`predict_proba`).
    history_ : list of dict
        One entry per update: labels so far, update seconds, query name.
    stop_reason_ : str or None
        Why the loop should stop (``"budget"``, ``"pool exhausted"``, a criterion's name).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = (X[:, 0] > 0).astype(int)
    >>> learner = ActiveLearner(LogisticRegression(), budget=30, random_state=0)
    >>> learner = learner.run(X, oracle=y)
    >>> len(learner.labeled_), learner.stop_reason_
    (30, 'budget')
    >>> float(learner.estimator_.score(X, y)) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "n_initial": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "budget": [Interval(Integral, 1, None, closed="left"), None],
        "update": [StrOptions({"auto", "partial_fit", "refit"})],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(
        self,
        estimator: Any,
        strategy: QueryStrategy | str | None = None,
        *,
        initial: QueryStrategy | str = "random",
        n_initial: int = 10,
        batch_size: int = 10,
        budget: int | None = None,
        classes: Sequence[Any] | None = None,
        update: str = "auto",
        stopping: Sequence[Any] | None = None,
        random_state: Any = None,
    ) -> None:
        self.estimator = estimator
        self.strategy = strategy
        self.initial = initial
        self.n_initial = n_initial
        self.batch_size = batch_size
        self.budget = budget
        self.classes = classes
        self.update = update
        self.stopping = stopping
        self.random_state = random_state

    # ------------------------------------------------------------------ set-up
    def _strategy(self, value: Any, name: str) -> QueryStrategy:
        if isinstance(value, str):
            return make_strategy(value)
        if isinstance(value, QueryStrategy):
            return value
        raise TypeError(
            f"{name} must be a QueryStrategy or a strategy name, got {type(value).__name__}"
        )

    def _check_params(self, n_rows: int) -> None:
        self._validate_params()
        if self.budget is not None and self.budget > n_rows:
            raise ValueError(
                f"budget={self.budget} is larger than the pool ({n_rows} rows): give at most that"
            )
        has_partial = hasattr(self.estimator, "partial_fit")
        if self.update == "partial_fit" and not (has_partial and self.classes is not None):
            raise ValueError(
                "update='partial_fit' needs an estimator with partial_fit and classes=[...]"
            )
        self._strategy(self.strategy if self.strategy is not None else "margin", "strategy")
        if self._strategy(self.initial, "initial").needs_estimator:
            raise ValueError(
                f"initial={self.initial!r} needs a model, but the seed set is chosen before one "
                "exists: use 'random', 'kmeans', 'coreset' or another strategy without a model"
            )
        if self.classes is not None and len(np.unique(np.asarray(self.classes))) < 2:
            raise ValueError("classes must hold at least two distinct labels")
        _check_criteria(self.stopping)

    def start(self, X: Any) -> ActiveLearner:
        """Begin a fresh loop on the pool ``X`` (forgetting any labels); returns self."""
        X = check_pool(X)
        self._check_params(X.shape[0])
        use_partial = self.update == "partial_fit" or (
            self.update == "auto"
            and hasattr(self.estimator, "partial_fit")
            and self.classes is not None
        )
        self.update_ = "partial_fit" if use_partial else "refit"
        self.n_features_in_ = X.shape[1]
        self.n_pool_ = X.shape[0]
        self.pool_fingerprint_ = _fingerprint(X)
        self.labeled_ = np.empty(0, dtype=np.int64)
        self.labels_ = np.empty(0, dtype=object)
        self.skipped_ = np.empty(0, dtype=np.int64)
        self.estimator_ = None
        # sorted as the estimator sorts them, so classes_ matches its predict_proba columns
        self.classes_ = (
            np.unique(_plain(np.asarray(self.classes, dtype=object)))
            if self.classes is not None
            else np.empty(0, dtype=object)
        )
        self.stopping_ = [clone(c) for c in (self.stopping or ())]
        self.history_: list[dict[str, Any]] = []
        self.stop_reason_ = None
        self._rng = np.random.default_rng(_seed(self.random_state))
        return self

    def _pool(self, X: Any) -> np.ndarray:
        X = check_pool(X)
        if not hasattr(self, "labeled_"):
            with _checked_pool(X):  # start need not scan it again
                self.start(X)
            return X
        if X.shape != (self.n_pool_, self.n_features_in_) or _fingerprint(X) != (
            self.pool_fingerprint_
        ):
            raise ValueError(
                f"X is not the pool this learner started on ({self.n_pool_} rows x "
                f"{self.n_features_in_} features, fingerprint {self.pool_fingerprint_}); got "
                f"{X.shape[0]} x {X.shape[1]}. Pass the same embeddings in the same order, or "
                "call start(X) to begin afresh"
            )
        self._check_params(self.n_pool_)  # set_params between calls is checked too
        return X

    # ------------------------------------------------------------------ the loop
    @property
    def n_labeled_(self) -> int:
        """Number of labelled rows."""
        self._check_started()
        return int(self.labeled_.size)

    def query(self, X: Any, n: int | None = None) -> np.ndarray:
        """Indices of the pool rows to label next, most useful first.

        ``n`` defaults to what is left of the seed set (``n_initial``) before the model
        exists and to ``batch_size`` after, capped by the budget left.
        """
        X = self._pool(X)
        left = self._budget_left()
        if left == 0:
            raise ValueError(
                f"the budget of {self.budget} labels is spent; raise budget to query more"
                if self.budget is not None
                else "every row of the pool is labelled: nothing to query"
            )
        seeding = self.estimator_ is None or self.labeled_.size < self.n_initial
        if n is None:
            short = self.n_initial - self.labeled_.size  # of the seed set
            n = short if short > 0 else self.batch_size
            n = max(1, min(n, left, self._rows_left()))
        else:
            _positive_int(n, "n")
            if n > left:
                raise ValueError(f"n={n} is more than the {left} labels left in the budget")
        if self._rows_left() == 0:
            raise ValueError("every row of the pool is labelled or skipped: nothing to query")
        if seeding:
            strategy, estimator = self._strategy(self.initial, "initial"), None
        else:
            strategy = self._strategy(self.strategy, "strategy") if self.strategy is not None \
                else MarginSampling()  # fmt: skip
            estimator = self.estimator_
        with _checked_pool(X):  # checked above: the strategy does not scan it again
            return strategy.query(
                X, self.labeled_, n, estimator=estimator, y=self.labels_, exclude=self.skipped_,
                random_state=self._rng,
            )  # fmt: skip

    def teach(self, X: Any, indices: Any, labels: Any) -> ActiveLearner:
        """Record the labels of pool rows ``indices`` and update the model; returns self.

        A refused call (a row already labelled, a label outside ``classes``, lengths that
        differ, the budget exceeded) changes nothing.
        """
        X = self._pool(X)
        idx = _as_indices(np.atleast_1d(np.asarray(indices)), self.n_pool_, "indices")
        labels = np.asarray(labels, dtype=object).reshape(-1)
        if labels.shape[0] != idx.shape[0]:
            raise ValueError(f"got {idx.shape[0]} indices but {labels.shape[0]} labels")
        if idx.size == 0:
            raise ValueError("indices is empty: give at least one row to teach")
        if np.unique(idx).size != idx.size:
            raise ValueError("indices holds the same row twice")
        again = np.intersect1d(idx, self.labeled_)
        if again.size:
            raise ValueError(
                f"rows {again[:5].tolist()} are already labelled; forget() them first to relabel"
            )
        if self.budget is not None and self.labeled_.size + idx.size > self.budget:
            raise ValueError(
                f"teaching {idx.size} rows would exceed the budget of {self.budget} labels "
                f"({self.labeled_.size} used)"
            )
        if self.classes is not None:
            unknown = [lab for lab in labels.tolist() if lab not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"label {unknown[0]!r} is not among classes {self.classes_.tolist()}"
                )
        if any(lab is None or (isinstance(lab, float) and lab != lab) for lab in labels.tolist()):
            raise ValueError("labels holds None or NaN: skip() a row instead of teaching it")
        if len({isinstance(lab, str) for lab in [*self.labels_[:1], *labels.tolist()]}) > 1:
            raise TypeError("labels mix strings and numbers; give every label the same type")
        new_labels = np.concatenate([self.labels_, labels])
        new_labeled = np.concatenate([self.labeled_, idx])
        start = time.perf_counter()
        with self._all_or_nothing():  # a model or a stopping criterion that fails
            estimator = self._updated(X, idx, labels, new_labeled, new_labels)
            return self._commit(X, idx, new_labeled, new_labels, estimator, start)

    @contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """Put labels, model, criteria and generator back if the block raises."""
        saved = {**self.__dict__, "history_": list(self.history_)}  # appended in place
        if self.update_ == "partial_fit":  # updated in place: labels and model stay in step
            saved["estimator_"] = copy.deepcopy(self.estimator_)
        criteria = copy.deepcopy(self.stopping_)
        rng_state = self._rng.bit_generator.state
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            self.stopping_ = criteria
            self._rng.bit_generator.state = rng_state
            raise

    def _commit(self, X, idx, labeled, labels, estimator, start: float) -> ActiveLearner:
        """Take the new labels and model, unskip ``idx``, then record the update."""
        self.labeled_, self.labels_, self.estimator_ = labeled, labels, estimator
        self.skipped_ = np.setdiff1d(self.skipped_, idx)
        if self.classes is None:
            self.classes_ = np.unique(_plain(labels))
        self._after_update(X, time.perf_counter() - start)
        return self

    def _updated(self, X, idx, labels, all_idx, all_labels) -> Any:
        """The model after adding ``idx``: incremental or refitted; the old one untouched."""
        if self.update_ == "partial_fit" and self.estimator_ is not None:
            self.estimator_.partial_fit(X[idx], _plain(labels))
            return self.estimator_
        return self._refit(X, all_idx, all_labels)  # every label kept, not just the new ones

    def _refit(self, X, idx, labels) -> Any:
        if idx.size == 0:
            return None
        if self.update_ == "partial_fit":  # classes= is known: one class so far is enough
            est = clone(self.estimator)
            est.partial_fit(X[idx], _plain(labels), classes=self.classes_)
            return est
        if len(set(labels.tolist())) < 2:
            return None  # a classifier cannot be fitted on one class yet
        return clone(self.estimator).fit(X[idx], _plain(labels))

    def _after_update(self, X: np.ndarray, seconds: float) -> None:
        self.history_.append({"n_labeled": int(self.labeled_.size), "update_s": seconds})
        self.stop_reason_ = None
        with _checked_pool(X):  # the caller's checked pool: the criteria do not scan it again
            for criterion in self.stopping_ if self.estimator_ is not None else ():
                if criterion.update(self.estimator_, X, random_state=self._rng):
                    self.stop_reason_ = type(criterion).__name__
        if self._rows_left() == 0:
            self.stop_reason_ = "pool exhausted"
        if self.budget is not None and self._budget_left() == 0:
            self.stop_reason_ = "budget"

    def skip(self, indices: Any) -> ActiveLearner:
        """Never query these rows again (a text nobody can label); returns self."""
        self._check_started()
        idx = _as_indices(np.atleast_1d(np.asarray(indices)), self.n_pool_, "indices")
        self.skipped_ = np.union1d(self.skipped_, np.setdiff1d(idx, self.labeled_))
        return self

    def forget(self, X: Any, indices: Any) -> ActiveLearner:
        """Undo: drop the labels (or skips) of ``indices`` and retrain on the rest; returns self."""
        X = self._pool(X)
        idx = _as_indices(np.atleast_1d(np.asarray(indices)), self.n_pool_, "indices")
        keep = ~np.isin(self.labeled_, idx)
        if keep.all():  # no label dropped: un-skip the rows, but the model is unchanged
            self.skipped_ = np.setdiff1d(self.skipped_, idx)
            if self.stop_reason_ == "pool exhausted" and self._rows_left():
                self.stop_reason_ = None
            return self
        labeled, labels = self.labeled_[keep], self.labels_[keep]
        start = time.perf_counter()
        with self._all_or_nothing():
            estimator = self._refit(X, labeled, labels)
            return self._commit(X, idx, labeled, labels, estimator, start)

    def run(
        self,
        X: Any,
        oracle: Any,
        *,
        max_rounds: int | None = None,
        callback: Callable[[ActiveLearner], Any] | None = None,
    ) -> ActiveLearner:
        """Query and teach until a stop: budget, criterion, empty pool or ``max_rounds``.

        ``oracle`` is every pool row's label (an array) or a function from indices to
        labels; ``callback(learner)`` runs after every round. Continues a started loop.
        """
        X = self._pool(X)
        if callable(oracle):
            ask = oracle
        else:
            gold = np.asarray(oracle, dtype=object)
            if gold.shape != (self.n_pool_,):
                raise ValueError(f"oracle must hold one label per pool row ({self.n_pool_})")
            ask = gold.__getitem__
        _positive_int(max_rounds, "max_rounds", allow_none=True)
        more = min(self._budget_left(), self._rows_left())  # budget raised, rows un-skipped
        if self.stop_reason_ in ("budget", "pool exhausted") and more:
            self.stop_reason_ = None
        rounds = 0
        while (
            self._budget_left()
            and self._rows_left()
            and (max_rounds is None or rounds < max_rounds)
        ):
            if self.stop_reason_ is not None:
                break
            if rounds and callback is not None:  # it may have written into the pool
                X = self._pool(X)
            with _checked_pool(X):  # scanned by teach (or above): query need not again
                idx = self.query(X)
            self.teach(X, idx, ask(idx))  # teach scans it: an oracle may write into it too
            rounds += 1
            if callback is not None:
                callback(self)
        return self

    def _check_started(self) -> None:
        if not hasattr(self, "labeled_"):
            raise NotFittedError(
                "this ActiveLearner has not started: call start(X), query(X) or teach(X, ...)"
            )

    def _budget_left(self) -> int:
        limit = self.n_pool_ if self.budget is None else self.budget
        return max(0, int(limit) - int(self.labeled_.size))

    def _rows_left(self) -> int:
        return int(self.n_pool_ - self.labeled_.size - self.skipped_.size)

    # ------------------------------------------------------------------ predictions
    def _model(self) -> Any:
        self._check_started()
        if self.estimator_ is None:
            raise ValueError(
                "no model yet: teach labels of at least two classes first (n_labeled_="
                f"{self.labeled_.size})"
            )
        return self.estimator_

    def predict(self, X: Any) -> np.ndarray:
        """Labels predicted by the current model."""
        return self._model().predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the current model (columns in ``estimator_.classes_``)."""
        return self._model().predict_proba(X)
