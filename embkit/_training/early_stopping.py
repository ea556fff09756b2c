"""Early stopping for the torch estimators, in the way of ``MLPClassifier``.

``fit`` holds out ``validation_fraction`` of the rows (:func:`holdout_indices`), scores the
negated validation loss after every pass and puts back the best pass's weights
(:class:`EarlyStopping`). ``partial_fit`` never holds data out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from embkit._core.validation import NON_NEGATIVE, OPEN_UNIT, POSITIVE_INT
from embkit._training.nn import cpu_state

__all__ = ["EARLY_STOPPING_CONSTRAINTS", "EarlyStopping", "holdout_indices"]

EARLY_STOPPING_CONSTRAINTS: dict[str, list[Any]] = {
    "early_stopping": ["boolean"],
    "validation_fraction": [OPEN_UNIT],
    "n_iter_no_change": [POSITIVE_INT],
    "tol": [NON_NEGATIVE],
}
"""The ``_parameter_constraints`` of the early-stopping parameters."""


def holdout_indices(
    n: int, fraction: float, rng: np.random.Generator, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into (train, validation) row indices, seeded by ``rng``.

    With 1-D ``labels`` the split is stratified: each class of two rows or more gives
    ``round(fraction * rows)`` of its rows, at least one, never all; single rows stay in
    training. When no class is large enough to give a row by itself (few-shot data), one
    row each comes from as many classes, drawn at random, as ``fraction`` of all their rows
    (at least one), so such data is not held out by half.

    Examples
    --------
    >>> labels = np.repeat(np.arange(10), 2)  # 10 classes of 2 rows
    >>> train, val = holdout_indices(20, 0.1, np.random.default_rng(0), labels)
    >>> len(train), len(val)
    (18, 2)
    """
    if n < 2:
        raise ValueError(
            f"early_stopping needs at least 2 samples to hold some out for validation, got "
            f"{n} sample (1 sample cannot be split); use early_stopping=False"
        )
    if labels is None or labels.ndim != 1:
        order = rng.permutation(n)
        n_val = min(max(1, math.ceil(fraction * n)), n - 1)
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    groups = [rows for code in np.unique(labels) if len(rows := np.flatnonzero(labels == code)) > 1]
    if not groups:  # every class a single row: a plain split
        return holdout_indices(n, fraction, rng)
    takes = [min(round(fraction * len(rows)), len(rows) - 1) for rows in groups]
    if any(takes):  # every class of two rows or more gives one at least
        val_parts = [
            rng.choice(rows, size=max(1, t), replace=False)
            for rows, t in zip(groups, takes, strict=True)
        ]
    else:  # few-shot: one row from each of as many classes as ``fraction`` of their rows
        pooled = max(1, round(fraction * sum(len(rows) for rows in groups)))
        picked = np.sort(rng.choice(len(groups), size=min(pooled, len(groups)), replace=False))
        val_parts = [rng.choice(groups[i], size=1) for i in picked]
    val = np.sort(np.concatenate(val_parts))
    train = np.setdiff1d(np.arange(n), val, assume_unique=True)
    return train, val


class EarlyStopping:
    """Scores after each pass, the best weights so far (on the CPU), and when to stop.

    As in ``MLPClassifier``: stop after more than ``n_iter_no_change`` passes in a row
    that do not beat the best score by more than ``tol``.
    """

    def __init__(self, *, n_iter_no_change: int, tol: float) -> None:
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scores: list[float] = []
        self.best_score = -np.inf
        self.best_iteration = 0
        self._best_state: dict[str, torch.Tensor] | None = None
        self._no_improvement = 0

    def update(self, score: float, module: torch.nn.Module, iteration: int) -> bool:
        """Record the score of pass ``iteration``; returns whether to stop now."""
        self.scores.append(score)
        if score > self.best_score + self.tol:
            self._no_improvement = 0
        else:
            self._no_improvement += 1
        if score > self.best_score:
            self.best_score = score
            self.best_iteration = iteration
            self._best_state = cpu_state(module)
        return self._no_improvement > self.n_iter_no_change

    def restore_best(self, module: torch.nn.Module) -> None:
        """Load the best weights seen into ``module`` (in place)."""
        if self._best_state is not None:
            with torch.no_grad():
                module.load_state_dict(self._best_state)
