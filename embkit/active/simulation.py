"""Simulated labelling: gold labels stand in for a person; learning curves and their area."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import clone

from embkit.active.learner import ActiveLearner
from embkit.active.strategies import QueryStrategy, make_strategy

__all__ = [
    "LearningCurve",
    "curve_table",
    "learning_curve_area",
    "plot_learning_curves",
    "simulate",
]


def learning_curve_area(n_labels: Any, accuracy: Any) -> float:
    """Normalised area under a learning curve: the mean accuracy over the labelled range.

    The trapezoidal area divided by the width ``n_labels[-1] - n_labels[0]``, so it reads as
    an accuracy and curves over the same range compare directly.

    Examples
    --------
    >>> learning_curve_area([10, 20, 30], [0.5, 0.7, 0.7])
    0.65
    """
    n = np.asarray(n_labels, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    if n.ndim != 1 or n.shape != acc.shape or n.size < 2:
        raise ValueError("n_labels and accuracy must be 1-d of the same length, at least 2")
    if np.any(np.diff(n) <= 0):
        raise ValueError("n_labels must be strictly increasing")
    area = np.sum((acc[1:] + acc[:-1]) / 2 * np.diff(n))
    return round(float(area / (n[-1] - n[0])), 12)


@dataclass
class LearningCurve:
    """Test accuracy after every round of one simulated run."""

    strategy: str
    seed: int
    n_labels: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    query_seconds: list[float] = field(default_factory=list)

    @property
    def area(self) -> float:
        """:func:`learning_curve_area` of this curve."""
        return learning_curve_area(self.n_labels, self.accuracy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "seed": self.seed, "n_labels": self.n_labels,
            "accuracy": self.accuracy, "query_seconds": self.query_seconds,
            "area": self.area if len(self.n_labels) > 1 else None,
        }  # fmt: skip


class _TimedStrategy(QueryStrategy):
    """Times another strategy's queries (for the curves' query_seconds)."""

    def __init__(self, strategy: QueryStrategy, seconds: list[float]) -> None:
        self.strategy = strategy
        self.seconds = seconds

    @property
    def needs_estimator(self) -> bool:  # type: ignore[override]
        return self.strategy.needs_estimator

    def _select(self, X, candidates, labeled, n, estimator, y, rng):
        start = time.perf_counter()
        picks = self.strategy._select(X, candidates, labeled, n, estimator, y, rng)
        self.seconds.append(time.perf_counter() - start)
        return picks


def simulate(
    estimator: Any,
    strategy: QueryStrategy | str,
    X: Any,
    y: Any,
    X_test: Any,
    y_test: Any,
    *,
    budget: int,
    n_initial: int = 10,
    batch_size: int = 10,
    initial: QueryStrategy | str = "random",
    random_state: int = 0,
    name: str | None = None,
) -> LearningCurve:
    """Run the loop with the gold labels ``y`` answering; score ``X_test`` after every round.

    Parameters
    ----------
    estimator : classifier
        Refitted (or updated) after every round by :class:`ActiveLearner`.
    strategy : QueryStrategy or str
        The strategy after the seed set.
    X, y : pool embeddings and their gold labels.
    X_test, y_test : held-out embeddings and labels, scored after every round.
    budget : int
        Labels in total (seed set included).
    n_initial, batch_size, initial, random_state
        As in :class:`ActiveLearner`.
    name : str, optional
        Label of the curve (default: the strategy's name).

    Returns
    -------
    LearningCurve
        Until the labels hold two classes there is no model; those rounds score the one
        label seen as the guess for every test row (what a classifier fitted on that one
        class would predict), so every point and the area are defined.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> curve = simulate(LogisticRegression(), "margin", X[:200], y[:200], X[200:], y[200:],
    ...                  budget=40, random_state=0)
    >>> curve.n_labels
    [10, 20, 30, 40]
    >>> 0.5 < curve.area <= 1.0
    True
    """
    X_test, y_test = np.asarray(X_test), np.asarray(y_test)
    if (
        X_test.ndim != 2
        or y_test.shape != X_test.shape[:1]
        or X_test.shape[1] != np.shape(X)[-1]
        or not len(X_test)
    ):
        raise ValueError(
            f"X_test must be 2-d with at least one row and the columns of X ({np.shape(X)[-1]}) "
            f"and y_test hold one label per row of X_test; got shapes {X_test.shape} and "
            f"{y_test.shape}"
        )
    if budget <= n_initial:
        raise ValueError(
            f"budget={budget} must be larger than n_initial={n_initial}: a learning curve "
            "needs a point after the seed set"
        )
    if isinstance(random_state, bool) or not isinstance(random_state, Integral):
        raise TypeError(
            f"random_state must be an integer seed (the curve records it), got {random_state!r}"
        )
    chosen = make_strategy(strategy) if isinstance(strategy, str) else clone(strategy)
    curve = LearningCurve(name or (strategy if isinstance(strategy, str) else repr(strategy)),
                          int(random_state))  # fmt: skip
    timed = _TimedStrategy(chosen, curve.query_seconds)
    learner = ActiveLearner(
        estimator, timed, initial=initial, n_initial=n_initial, batch_size=batch_size,
        budget=budget, random_state=random_state,
    )  # fmt: skip

    def score(active: ActiveLearner) -> None:
        model = active.estimator_  # None until two classes are labelled: the one seen is guessed
        guess = active.labels_[0] if model is None else model.predict(X_test)
        curve.n_labels.append(int(active.labeled_.size))
        curve.accuracy.append(float(np.mean(y_test == guess)))

    learner.run(X, np.asarray(y), callback=score)
    return curve


def curve_table(curves: list[LearningCurve]) -> list[dict[str, Any]]:
    """One row per strategy: mean (and min-max) area and final accuracy over the seeds."""
    rows = []
    for name in dict.fromkeys(c.strategy for c in curves):
        mine = [c for c in curves if c.strategy == name]
        areas = np.array([c.area for c in mine])
        final = np.array([c.accuracy[-1] for c in mine])
        rows.append({
            "strategy": name, "seeds": len(mine),
            "area (mean ± sd)": f"{areas.mean():.4f} ± {areas.std():.4f}",
            "area min-max": f"{areas.min():.4f}-{areas.max():.4f}",
            f"accuracy at {mine[0].n_labels[-1]} labels": f"{final.mean():.4f} ± {final.std():.4f}",
        })  # fmt: skip
    return rows


def plot_learning_curves(
    curves: list[LearningCurve], *, ax: Any = None, title: str | None = None
) -> Any:
    """Accuracy against labels: one line per strategy (mean over seeds), min-max shaded.

    Needs matplotlib (``pip install 'embkit[plot]'``). Returns the figure.

    Examples
    --------
    >>> from embkit.active import LearningCurve, plot_learning_curves
    >>> a = LearningCurve("random", 0, [10, 20], [0.5, 0.6])
    >>> b = LearningCurve("random", 1, [10, 20], [0.55, 0.7])
    >>> fig = plot_learning_curves([a, b], title="toy")
    >>> len(fig.axes[0].lines)
    1
    """
    if ax is None:
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "plot_learning_curves needs matplotlib: pip install 'embkit[plot]'"
            ) from exc
        ax = Figure(figsize=(7.0, 4.5), layout="constrained").add_subplot()
    for name in dict.fromkeys(c.strategy for c in curves):
        mine = [c for c in curves if c.strategy == name]
        n = np.asarray(mine[0].n_labels)
        if any(list(c.n_labels) != list(n) for c in mine):
            raise ValueError(f"the curves of {name!r} were not scored at the same label counts")
        acc = np.array([c.accuracy for c in mine], dtype=float)
        (line,) = ax.plot(n, np.nanmean(acc, axis=0), label=f"{name} ({len(mine)} seeds)")
        if len(mine) > 1:
            ax.fill_between(n, np.nanmin(acc, axis=0), np.nanmax(acc, axis=0),
                            color=line.get_color(), alpha=0.2, linewidth=0)  # fmt: skip
    ax.set_xlabel("labelled texts")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    return ax.figure
