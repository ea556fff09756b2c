"""Strategies over the embedding space (greedy core-set, k-means centres), class balancing.

These need no model: they spread the labels over the pool, which is what a seed set wants
and what uncertainty sampling alone does not do. :class:`ClassBalanced` wraps any strategy
so the classes the labelled set lacks get more of each round.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from embkit.active._helpers import _positive_int
from embkit.active.strategies import (
    QueryStrategy,
    _UncertaintySampling,
    predict_proba,
    top_n,
)

__all__ = ["ClassBalanced", "CoreSet", "KMeansSampling"]

_CHUNK = 256  # centres per block when measuring pool-to-centre distances


def _squared_norms(X: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", X, X)


def _min_sq_distance(X: np.ndarray, norms: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distance of every row of ``X`` to its nearest row of ``centres`` (in blocks)."""
    best = np.full(X.shape[0], np.inf, dtype=np.float64)
    for start in range(0, centres.shape[0], _CHUNK):  # loops over blocks of centres only
        block = centres[start : start + _CHUNK]
        d2 = norms[:, None] - 2.0 * (X @ block.T) + _squared_norms(block)[None, :]
        np.minimum(best, d2.min(axis=1), out=best)
    return np.maximum(best, 0.0)


class CoreSet(QueryStrategy):
    """Greedy core-set (k-centre): each pick is the row farthest from every labelled row.

    With nothing labelled the first pick is a random row; each pick is the candidate
    farthest (Euclidean) from its nearest labelled-or-picked row, so the picks cover the
    pool evenly (Sener and Savarese, 2018).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1], [10.0]])
    >>> CoreSet().query(X, labeled=[0], n=2).tolist()
    [4, 2]
    """

    def _select(self, X, candidates, labeled, n, estimator, y, rng):
        return self._greedy(X, candidates, labeled, n, rng, self._distances(X, labeled))

    @staticmethod
    def _distances(X, labeled):
        """What every pick of a round shares: the rows' squared norms, each row's squared
        distance to its nearest labelled row (None with nothing labelled)."""
        norms = _squared_norms(X)
        nearest = _min_sq_distance(X, norms, X[labeled]) if labeled.size else None
        return norms, nearest

    @staticmethod
    def _greedy(X, candidates, labeled, n, rng, distances):
        """The ``n`` picks among ``candidates``, given the round's :meth:`_distances`."""
        norms, nearest = distances
        dist = nearest[candidates] if labeled.size else np.full(candidates.size, np.inf)
        picks = np.empty(n, dtype=np.int64)
        for i in range(n):  # loops over the picks; each step is vectorised over the pool
            first = i == 0 and not labeled.size  # nothing to be far from: a random row
            j = int(rng.integers(candidates.size)) if first else int(np.argmax(dist))
            picks[i] = j
            row = candidates[j]
            d2 = norms - 2.0 * (X @ X[row]) + norms[row]
            np.minimum(dist, d2[candidates], out=dist)
            dist[j] = -1.0  # never picked twice, even among exact duplicates
        return candidates[picks]


def _kmeans(X: np.ndarray, k: int, rng: np.random.Generator, n_iter: int) -> np.ndarray:
    """Centres of ``k`` clusters: k-means++ seeding, then ``n_iter`` Lloyd steps.

    Plain matrix products: scikit-learn's OpenMP k-means stalled on a busy machine.
    """
    from scipy import sparse

    norms = _squared_norms(X)
    centres = np.empty((k, X.shape[1]), dtype=X.dtype)
    first = int(rng.integers(X.shape[0]))
    centres[0] = X[first]
    dist = np.maximum(norms - 2.0 * (X @ X[first]) + norms[first], 0.0)
    for i in range(1, k):  # k-means++: loops over the centres, vectorised over the rows
        total = dist.sum()
        j = int(rng.choice(X.shape[0], p=dist / total)) if total > 0 else int(
            rng.integers(X.shape[0]))  # fmt: skip
        centres[i] = X[j]
        np.minimum(dist, np.maximum(norms - 2.0 * (X @ X[j]) + norms[j], 0.0), out=dist)
    rows = np.arange(X.shape[0])
    for _ in range(n_iter):
        d2 = -2.0 * (X @ centres.T) + _squared_norms(centres)[None, :]
        nearest = d2.argmin(axis=1)
        member = sparse.csr_matrix((np.ones(X.shape[0]), (nearest, rows)), shape=(k, X.shape[0]))
        counts = np.asarray(member.sum(axis=1)).ravel()
        sums = np.asarray(member @ X)
        filled = counts > 0
        moved = sums[filled] / counts[filled, None]
        if np.allclose(moved, centres[filled]):
            break
        centres[filled] = moved  # an empty cluster keeps its centre
    return centres


class KMeansSampling(QueryStrategy):
    """The rows nearest to the centres of ``n`` k-means clusters of the unlabelled rows.

    Representative picks (the core-set favours outliers): a good seed set. k-means++ and
    Lloyd steps run on at most ``max_samples`` random candidates; each centre gives its
    nearest candidate (an empty one, a random candidate).

    Parameters
    ----------
    max_samples : int, default=5000
        Candidates the clustering sees at most (the assignment sees them all).
    n_iter : int, default=10
        Lloyd steps at most.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 0.1, size=(20, 2)) for c in (0.0, 5.0, 10.0)])
    >>> picks = KMeansSampling().query(X, labeled=[], n=3, random_state=0)
    >>> sorted(int(p) // 20 for p in picks)  # one row from each blob
    [0, 1, 2]
    """

    def __init__(self, max_samples: int = 5000, *, n_iter: int = 10) -> None:
        self.max_samples = max_samples
        self.n_iter = n_iter

    def _select(self, X, candidates, labeled, n, estimator, y, rng):
        _positive_int(self.max_samples, "max_samples")
        _positive_int(self.n_iter, "n_iter")
        if n == candidates.size:
            return rng.permutation(candidates)
        sample = candidates
        if candidates.size > max(self.max_samples, n):
            sample = rng.choice(candidates, size=max(self.max_samples, n), replace=False)
        centres = _kmeans(X[sample], n, rng, self.n_iter)
        # rows to centres: over the pool itself when most rows are candidates (a copy of
        # them would be nearly the whole pool; _UncertaintySampling._proba does the same)
        # and the pool x centres product is no larger than that copy, else over a copy
        in_place = candidates.size * 2 >= X.shape[0] and n <= X.shape[1]
        sub = X if in_place else X[candidates]
        d2, sq = sub @ centres.T, _squared_norms(sub)
        if in_place and candidates.size < X.shape[0]:
            d2, sq = d2[candidates], sq[candidates]
        d2 = -2.0 * d2 + _squared_norms(centres)[None, :]
        nearest = d2.argmin(axis=1)
        # the row's own squared norm was left out of d2 (same for every centre); add it back
        # to compare distances between rows
        dist = d2[np.arange(candidates.size), nearest] + sq
        # for each centre, its closest member: sort by (centre, distance), keep group heads
        order = np.lexsort((dist, nearest))
        heads = order[np.r_[True, nearest[order][1:] != nearest[order][:-1]]]
        picks = candidates[heads[np.argsort(nearest[heads], kind="stable")]]
        if picks.size < n:  # empty clusters: fill with random candidates not yet picked
            rest = np.setdiff1d(candidates, picks)
            picks = np.r_[picks, rng.choice(rest, size=n - picks.size, replace=False)]
        return picks[:n]


class ClassBalanced(QueryStrategy):
    """Wrap a strategy so each round leans towards the classes the labelled set lacks.

    The ``n`` picks are shared among the predicted classes in proportion to how far each is
    below an equal share of the labels; the wrapped strategy chooses inside each class and
    fills what a class cannot. Without an estimator or labels it is the wrapped strategy.

    Parameters
    ----------
    strategy : QueryStrategy
        The strategy that ranks rows inside each class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from embkit.active import MarginSampling
    >>> X = np.r_[np.linspace(-3, -1, 20), np.linspace(1, 3, 20)].reshape(-1, 1)
    >>> labeled, y = [0, 1, 2, 39], [0, 0, 0, 1]
    >>> clf = LogisticRegression().fit(X[labeled], y)
    >>> picks = ClassBalanced(MarginSampling()).query(X, labeled, 4, estimator=clf, y=y)
    >>> int((clf.predict(X[picks]) == 1).sum())  # class 1 is short of labels: it gets 3 of 4
    3
    """

    def __init__(self, strategy: QueryStrategy) -> None:
        self.strategy = strategy

    @property
    def needs_estimator(self) -> bool:  # type: ignore[override]
        # the wrapped strategy decides: balancing itself works with or without a model
        return bool(getattr(self.strategy, "needs_estimator", False))

    def _select(self, X, candidates, labeled, n, estimator, y, rng):
        if not isinstance(self.strategy, QueryStrategy) or isinstance(self.strategy, ClassBalanced):
            raise TypeError(
                "ClassBalanced(strategy) needs a query strategy other than ClassBalanced, got "
                f"{type(self.strategy).__name__}"
            )
        base = clone(self.strategy)
        if estimator is None or y is None or len(y) == 0:
            if base.needs_estimator:
                raise ValueError(
                    f"ClassBalanced({type(base).__name__}) needs a fitted estimator and the "
                    "labels y of the labelled rows"
                )
            return base._select(X, candidates, labeled, n, estimator, y, rng)
        if isinstance(base, _UncertaintySampling):  # scores the pool without copying it
            proba = base._proba(estimator, X, candidates)
        else:
            proba = predict_proba(estimator, X[candidates])
        classes = np.asarray(estimator.classes_)
        predicted = proba.argmax(axis=1)
        quota = self._quota(classes, np.asarray(y), predicted, n)
        scores = base.scores(proba) if isinstance(base, _UncertaintySampling) else None
        # a core-set's distances from the pool to the labelled rows serve every class and
        # the filling call alike: measured once a round, not once per call
        shared = base._distances(X, labeled) if type(base)._select is CoreSet._select else None

        def pick(rows: np.ndarray, size: int, est) -> np.ndarray:
            if shared is not None:
                return base._greedy(X, rows, labeled, size, rng, shared)
            return base._select(X, rows, labeled, size, est, y, rng)

        picks: list[np.ndarray] = []
        for k in np.flatnonzero(quota):  # loops over classes, not rows
            members = np.flatnonzero(predicted == k)
            if scores is not None:
                picks.append(top_n(candidates[members], scores[members], quota[k], rng))
            else:
                picks.append(pick(candidates[members], quota[k], None))
        chosen = np.concatenate(picks) if picks else np.empty(0, dtype=np.int64)
        if chosen.size < n:
            rest = np.setdiff1d(candidates, chosen, assume_unique=True)
            if scores is not None:
                keep = ~np.isin(candidates, chosen)
                more = top_n(candidates[keep], scores[keep], n - chosen.size, rng)
            else:
                more = pick(rest, n - chosen.size, estimator)
            chosen = np.r_[chosen, more]
        return chosen

    @staticmethod
    def _quota(classes: np.ndarray, y: np.ndarray, predicted: np.ndarray, n: int) -> np.ndarray:
        """Places per class: towards an equal share, capped by the rows predicted as it."""
        counts = (y[:, None] == classes[None, :]).sum(axis=0).astype(float)
        target = (counts.sum() + n) / classes.size
        need = np.maximum(target - counts, 0.0)
        available = np.bincount(predicted, minlength=classes.size)
        need = np.where(available > 0, need, 0.0)
        if need.sum() == 0:
            need = available.astype(float)
        share = need / need.sum() * n
        quota = np.floor(share).astype(int)
        order = np.argsort(-(share - quota), kind="stable")  # largest remainders first
        quota[order[: n - quota.sum()]] += 1
        return np.minimum(quota, available)
