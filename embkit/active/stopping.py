"""Stopping criteria: when more labels stop paying for themselves.

:class:`ActiveLearner` clones a criterion at the start and calls its
``update(estimator, X, random_state)`` after every model update; it answers whether to stop.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from embkit.active.strategies import _generator, check_pool

__all__ = ["StabilizingPredictions"]


class StabilizingPredictions(BaseEstimator):
    """Stop once the model's predictions on a fixed sample stop changing.

    After every update the model labels the same ``sample_size`` pool rows (drawn once);
    Cohen's kappa with the previous model's labels is the agreement. Stop when the last
    ``window`` agreements all reach ``threshold`` (Bloodgood and Vijay-Shanker, 2009).

    Parameters
    ----------
    threshold : float, default=0.99
        Kappa every one of the last ``window`` agreements must reach.
    window : int, default=3
        How many consecutive agreements must reach it.
    sample_size : int, default=2000
        Rows of the pool in the fixed sample (all of them in smaller pools).

    Attributes
    ----------
    sample_ : ndarray of int64
        The fixed sample (row indices of the pool).
    agreements_ : list of float
        Kappa between consecutive models, one per update after the first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> X = np.zeros((50, 2))
    >>> clf = DummyClassifier().fit(X, [0] * 25 + [1] * 25)
    >>> crit = StabilizingPredictions(window=2)
    >>> [crit.update(clf, X, random_state=0) for _ in range(3)]
    [False, False, True]
    """

    _parameter_constraints: dict = {
        "threshold": [Interval(Real, -1, 1, closed="both")],
        "window": [Interval(Integral, 1, None, closed="left")],
        "sample_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self, threshold: float = 0.99, *, window: int = 3, sample_size: int = 2000
    ) -> None:
        self.threshold = threshold
        self.window = window
        self.sample_size = sample_size

    def update(self, estimator: Any, X: Any, random_state: Any = None) -> bool:
        """Record the model's labels on the fixed sample; True when it is time to stop."""
        from sklearn.metrics import cohen_kappa_score

        self._validate_params()
        X = check_pool(X)
        if not hasattr(self, "sample_"):
            rng = _generator(random_state)
            size = min(self.sample_size, X.shape[0])
            self.sample_ = np.sort(rng.choice(X.shape[0], size=size, replace=False))
            self.agreements_: list[float] = []
            self.last_prediction_ = None
        elif self.sample_.size and self.sample_.max() >= X.shape[0]:
            raise ValueError(
                f"the pool has {X.shape[0]} rows, fewer than when this criterion started"
            )
        prediction = np.asarray(estimator.predict(X[self.sample_]))
        if self.last_prediction_ is not None:
            if np.array_equal(prediction, self.last_prediction_):
                kappa = 1.0  # also covers a constant prediction, where kappa is undefined
            else:
                kappa = float(cohen_kappa_score(self.last_prediction_, prediction))
            self.agreements_.append(kappa if np.isfinite(kappa) else 0.0)
        self.last_prediction_ = prediction
        recent = self.agreements_[-self.window :]
        return len(recent) == self.window and min(recent) >= self.threshold
