"""The ``auto`` pipeline: pick a tuner (or none) and its settings by cross-validation.

A GridSearchCV over ``[tuner, LogisticRegression]`` on embeddings (tuner: passthrough,
KNeighborsTuner, FeedForwardTuner or ContrastiveTuner), scored by macro F1 on stratified
folds of the training split only, then refitted on all of it. It keeps KNeighborsTuner, the
tuner that lost on no validation set, unless another candidate beats it clearly on the
folds. How the grid, the rule and the fold count were chosen is in ``docs/tuners.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold

from embkit.tuning.contrastive_tuner import ContrastiveTuner
from embkit.tuning.feedforward import FeedForwardTuner
from embkit.tuning.neighbors import KNeighborsTuner

__all__ = ["MARGIN_SE", "auto_search", "describe_choice", "keep_default_unless_beaten"]

#: How clearly a candidate must beat KNeighborsTuner to be chosen instead: its mean gain
#: over it on the folds must exceed this many standard errors of the fold-by-fold gains.
MARGIN_SE = 2.0


class FoldsForSmallData(RepeatedStratifiedKFold):
    """Repeated stratified folds, fewer of them (down to 2) when the largest class of the
    training split has fewer rows than ``n_splits``: a small file still gets its ``auto``.

    Examples
    --------
    >>> folds = FoldsForSmallData(n_splits=3, n_repeats=1, random_state=0)
    >>> folds.get_n_splits(None, ["a", "a", "b", "b"])
    2
    """

    def _folds(self, y: Any) -> RepeatedStratifiedKFold:
        n_splits = self.cvargs["n_splits"]
        if y is not None:
            largest = np.unique(np.asarray(y), return_counts=True)[1].max(initial=0)
            n_splits = min(n_splits, int(largest))
            if n_splits < 2:
                raise ValueError(
                    "the auto pipeline chooses by cross-validation and needs two training "
                    "texts of one label at least; drop it (--pipelines lr,...) or add texts"
                )
        return RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=self.n_repeats, random_state=self.random_state
        )

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self._folds(y).get_n_splits(X, y, groups)

    def split(self, X: Any, y: Any, groups: Any = None) -> Any:
        return self._folds(y).split(X, y, groups)


def auto_grid(random_state: Any = None) -> list[dict[str, list[Any]]]:
    """The candidates: plain LR, KNeighborsTuner, FeedForwardTuner (``output`` "concat" or
    "residual") and ContrastiveTuner.

    Examples
    --------
    >>> [type(g["tuner"][0]).__name__ for g in auto_grid()]
    ['str', 'KNeighborsTuner', 'FeedForwardTuner', 'ContrastiveTuner']
    """
    return [
        {"tuner": ["passthrough"]},
        {"tuner": [KNeighborsTuner()]},  # deterministic
        {
            "tuner": [FeedForwardTuner(random_state=random_state)],
            "tuner__output": ["concat", "residual"],
        },
        {"tuner": [ContrastiveTuner(random_state=random_state)]},
    ]


def keep_default_unless_beaten(cv_results: dict[str, Any]) -> int:
    """GridSearchCV's ``refit``: the index of the candidate ``auto`` keeps.

    The best candidate by mean fold score if it beats the default (the KNeighborsTuner
    candidate) by more than ``MARGIN_SE`` standard errors of their paired fold gaps, else
    the default. Fold scores differ by a point or two from split to split, so the plain
    best mean often chose a tuner that new texts did not confirm (``docs/tuners.md``).
    The folds are taken as independent: with repeated folds, which overlap, the standard
    error is somewhat too small, and with two folds it is a rough guess.

    Parameters
    ----------
    cv_results : dict
        A grid search's ``cv_results_``.

    Returns
    -------
    int
        The chosen candidate's index in ``cv_results["params"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from embkit import KNeighborsTuner
    >>> results = {"params": [{"tuner": "passthrough"}, {"tuner": KNeighborsTuner()}],
    ...            "split0_test_score": np.array([0.80, 0.78]),
    ...            "split1_test_score": np.array([0.76, 0.77]),
    ...            "split2_test_score": np.array([0.79, 0.78])}
    >>> keep_default_unless_beaten(results)  # ahead by 0.007 on average, not clearly
    1
    """
    params = cv_results["params"]
    splits = [k for k in cv_results if k.startswith("split") and k.endswith("_test_score")]
    scores = np.column_stack([np.asarray(cv_results[k], dtype=float) for k in splits])
    means = np.where(np.isnan(scores).any(axis=1), -np.inf, scores.mean(axis=1))
    best = int(np.argmax(means))  # a candidate that failed on a fold is never best
    default = next(
        (i for i, p in enumerate(params) if isinstance(p.get("tuner"), KNeighborsTuner)), None
    )
    if default is None or not np.isfinite(means[default]) or best == default:
        return best
    gaps = scores[best] - scores[default]
    spread = gaps.std(ddof=1) / np.sqrt(len(gaps)) if len(gaps) > 1 else 0.0
    return best if gaps.mean() > MARGIN_SE * spread else default


def auto_search(
    *, random_state: Any = None, cv: int = 3, n_repeats: int = 1, verbose: bool = False
) -> Any:
    """A grid search over the :func:`auto_grid` candidates, scored by macro F1, that
    keeps KNeighborsTuner unless another candidate beats it clearly
    (:func:`keep_default_unless_beaten`).

    Parameters
    ----------
    random_state : int or None
        Seeds the folds and every tuner.
    cv : int, default=3
        Number of stratified folds (shuffled with ``random_state``); fewer, down to 2, when
        the largest class has fewer training rows.
    n_repeats : int, default=1
        How many times the folds are drawn anew; every candidate is scored on the mean of
        ``cv * n_repeats`` folds (the same folds for all).
    verbose : bool, default=False
        Let the grid search print its progress.

    Returns
    -------
    sklearn.model_selection.GridSearchCV

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4)).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> search = auto_search(random_state=0).fit(X, y)
    >>> describe_choice(search).split(" ")[0] in ("lr", "kneighbors", "feedforward", "contrastive")
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    pipe = Pipeline(
        [("tuner", "passthrough"), ("logisticregression", LogisticRegression(max_iter=3000))]
    )
    folds = FoldsForSmallData(n_splits=cv, n_repeats=n_repeats, random_state=random_state)
    return GridSearchCV(
        pipe,
        auto_grid(random_state),
        scoring="f1_macro",
        cv=folds,
        refit=keep_default_unless_beaten,
        verbose=int(verbose),
    )


def describe_choice(search: Any) -> str:
    """What a fitted :func:`auto_search` chose, e.g. ``"feedforward (output='residual')"``.

    Examples
    --------
    >>> class Fitted:
    ...     best_params_ = {"tuner": "passthrough"}
    ...     best_index_ = 0
    ...     cv_results_ = {"mean_test_score": [0.8]}
    >>> describe_choice(Fitted())
    'lr (CV macro F1 0.800)'
    """
    params = dict(search.best_params_)
    tuner = params.pop("tuner")
    if isinstance(tuner, FeedForwardTuner):
        name = "feedforward"
    elif isinstance(tuner, ContrastiveTuner):
        name = "contrastive"
    elif isinstance(tuner, KNeighborsTuner):
        name = "kneighbors"
    else:
        name = "lr"
    settings = ", ".join(f"{k.split('__', 1)[1]}={v!r}" for k, v in sorted(params.items()))
    detail = f"{settings}, " if settings else ""
    score = search.cv_results_["mean_test_score"][search.best_index_]
    return f"{name} ({detail}CV macro F1 {score:.3f})"
