"""``KNeighborsTuner``: the input, followed by the labels of its nearest labelled neighbours."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from embkit._core.validation import POSITIVE, POSITIVE_INT
from embkit._training.labels import LabelMixin
from embkit._training.rollback import unchanged_on_error
from embkit._training.torch_base import check_X
from embkit.tuning._tuner import OUTPUT_CONSTRAINT

# Cosine at or above this: the same vector (the same text), which never votes for itself.
_SAME_ROW = 1.0 - 1e-5
_FLOOR = 1e-3  # smallest neighbour share before the logarithm
# bytes a query row costs per stored row: its float32 similarity, a bool "same row" flag
# and, for a row with a copy among the stored ones, that flag as float32 (the copies' labels
# are one matrix product away), with room for torch.topk's work
_BYTES_PER_PAIR = 12
_MAX_QUERY_ROWS = 1024  # the most query rows at once: larger blocks measured no faster


def _unit_rows(X: np.ndarray) -> np.ndarray:
    """``X``'s rows scaled to length 1 (a zero row stays zero), float32, a new array."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    largest = np.finfo(np.float32).max
    unit = X / np.where(norms > 0, np.minimum(norms, largest), 1.0).astype(np.float32)[:, None]
    huge = norms > largest  # the float32 norm would be inf: divide these in float64
    if huge.any():
        unit[huge] = X[huge] / norms[huge, None]
    return unit


def _label_sums(targets: np.ndarray, voters: np.ndarray) -> np.ndarray:
    """How many rows that can vote carry each label (exact: sums of 0/1 in float64)."""
    return targets[voters].sum(axis=0, dtype=np.float64)


class _RowStore:
    """Buffers with spare room for the kept rows, their labels, vote flags and label codes.

    Not an array, so a deep rollback (``PartialPipeline``) does not copy the buffers: the
    rows already written are never changed, and ``size`` tells every holder whether the
    room after its own rows is still free.
    """

    def __init__(self, arrays: tuple, capacity: int) -> None:
        self.size = len(arrays[0])
        self.arrays = []
        for array in arrays:
            if array is None:
                self.arrays.append(None)
                continue
            buffer = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
            buffer[: self.size] = array
            self.arrays.append(buffer)


class KNeighborsTuner(LabelMixin, TransformerMixin, BaseEstimator):
    """Append to each embedding how its nearest training embeddings are labelled.

    For every row, the ``n_neighbors`` most cosine-similar training rows vote with their
    labels (one vote each, or weighted by ``exp(cosine / temperature)``); the row gets, per
    class (or per label of a 2-D 0/1 ``y``), the log of the class's share of the vote over
    its share among all the rows that could vote (0: the neighbourhood looks like the rest;
    shares below 0.001 count as 0.001). **A row never votes for itself**: training rows
    identical to the query (cosine at least 1 - 1e-5, the same text) are left out, of the
    vote and of the base share alike, so the training rows of a pipeline see the feature as
    new texts will and the classifier after it does not learn to trust it more than it
    deserves; on small data, leaving a row out without correcting the base share would
    make every training row look less like its own class. ``fit_transform`` and
    ``fit(...).transform`` agree. A zero vector neither votes nor gets votes (0s).

    Nothing is trained: ``fit`` keeps the unit-length training rows and their labels (as
    ``KNeighborsClassifier`` does; a fitted tuner holds ``n_samples x n_features``
    float32 numbers; after ``partial_fit``, up to half as many again as room for the
    next batches, which a pickle leaves out) and ``partial_fit`` appends to them. The
    result is deterministic.
    The defaults were chosen on validation splits of five data sets (docs/tuners.md).

    Parameters
    ----------
    n_neighbors : int, default=50
        Training rows that vote for each row (all of them if fewer are stored).
    temperature : float or None, default=None
        ``None`` gives every neighbour the same vote; a number weighs each vote by
        ``exp(cosine / temperature)``, so that small values let the closest dominate.
    scale : float, default=0.1
        Factor on the appended log ratios (the input rows have length about 1), so that a
        regularised classifier after the tuner weighs them against the input.
    output : {"concat", "tuned"}, default="concat"
        ``"concat"``: the input followed by the scaled log ratios, width
        ``n_features_in_ + len(classes_)``; ``"tuned"``: the scaled log ratios alone.
    batch_size : int or None, default=None
        Query rows compared with the stored rows at once (memory is about 12 bytes x
        ``batch_size x n_samples_fit``). ``None``: 1024, or fewer when that would not fit
        in scikit-learn's ``working_memory`` (``sklearn.set_config``, 1024 MB unless
        changed; ``KNeighborsClassifier`` obeys it too), so a tuner that has kept a
        million rows compares about 90 query rows at a time instead of running out of memory.

    Attributes
    ----------
    classes_ : ndarray
        Class labels (the appended columns); ``arange(n_labels)`` for multi-label.
    multi_label_ : bool
        Whether ``y`` was a 2-D 0/1 label matrix.
    n_features_in_ : int
        Number of input features.
    embeddings_ : ndarray of shape (n_samples_fit, n_features_in_), float32
        The training rows scaled to unit length.
    targets_ : ndarray of shape (n_samples_fit, len(classes_)), float32
        Their labels, one-hot (or the 0/1 label matrix).

    See Also
    --------
    FeedForwardTuner, ContrastiveTuner : tuners that train a network on the labels.

    Examples
    --------
    >>> import numpy as np
    >>> from embkit import KNeighborsTuner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 8)).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> tuner = KNeighborsTuner(n_neighbors=5).fit(X, y)
    >>> tuner.transform(X).shape  # the 8 inputs, then one column per class
    (40, 10)
    >>> tuner.get_feature_names_out()[-2:].tolist()
    ['kneighborstuner_neg', 'kneighborstuner_pos']
    >>> np.allclose(tuner.transform(X), KNeighborsTuner(n_neighbors=5).fit_transform(X, y))
    True
    """

    _parameter_constraints: dict = {
        "n_neighbors": [POSITIVE_INT],
        "temperature": [None, POSITIVE],
        "scale": [POSITIVE],
        "output": OUTPUT_CONSTRAINT,
        "batch_size": [None, POSITIVE_INT],
    }

    def __init__(
        self,
        n_neighbors: int = 50,
        *,
        temperature: float | None = None,
        scale: float = 0.1,
        output: str = "concat",
        batch_size: int | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.temperature = temperature
        self.scale = scale
        self.output = output
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any):
        """Keep the training rows (unit length) and their labels, replacing earlier ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels, or a 0/1 label matrix for multi-label data.

        Returns
        -------
        self
        """
        self._validate_params()
        with unchanged_on_error(self):
            X = check_X(self, X, reset=True)
            targets = self._targets(y, len(X), reset=True, classes=None, partial=False)
            self._keep(_unit_rows(X), targets)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None):
        """Add a batch of labelled rows to the ones already kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like, default=None
            Every label the stream can contain (one appended column each), given on the
            first call; without it, the labels of the first batch are all there can be.

        Returns
        -------
        self
        """
        self._validate_params()
        first = not hasattr(self, "embeddings_")
        with unchanged_on_error(self):
            X = check_X(self, X, reset=first)
            # without ``classes``, the first batch's labels are all the stream may contain
            partial = classes is not None or not first
            targets = self._targets(y, len(X), reset=first, classes=classes, partial=partial)
            if first:
                self._keep(_unit_rows(X), targets)
            else:
                self._append(_unit_rows(X), targets)
        return self

    def _keep(self, embeddings: np.ndarray, targets: np.ndarray) -> None:
        """Store the rows read-only: they are replaced, never changed in place, so a
        rollback (``PartialPipeline``) restores the attributes without copying them. What
        every ``transform`` needs from them is worked out here, once, not on every call."""
        voters, codes = self._voters_and_codes(embeddings, targets)
        self._publish(embeddings, targets, voters, codes, _label_sums(targets, voters))
        self._store = None

    def _voters_and_codes(self, embeddings: np.ndarray, targets: np.ndarray) -> tuple:
        voters = embeddings.any(axis=1)  # a zero row has no direction: it never votes
        # one label a row: its code, so that votes are counted without a k x classes block
        return voters, None if self.multi_label_ else targets.argmax(axis=1)

    def _append(self, embeddings: np.ndarray, targets: np.ndarray) -> None:
        """Add a batch after the kept rows without copying them: the rows live in buffers
        with spare room (half as much again when full), so a stream of batches costs time
        in proportion to its rows, not to the rows kept times the number of batches."""
        n, store = len(self.embeddings_), self._store
        voters, codes = self._voters_and_codes(embeddings, targets)
        new = (embeddings, targets, voters, codes)
        old = (self.embeddings_, self.targets_, self._voters, self._codes)
        need = n + len(embeddings)
        # another holder of the buffers (the attributes a rollback saved) may have
        # written past our rows: then, as when the room runs out, the rows move to new ones
        mine = store is not None and store.size == n and self.embeddings_.base is store.arrays[0]
        if not mine or len(store.arrays[0]) < need:
            store = _RowStore(old, capacity=need + need // 2)
        for buffer, batch in zip(store.arrays, new, strict=True):
            if buffer is not None:
                buffer[n:need] = batch
        store.size = need
        grown = [None if b is None else b[:need] for b in store.arrays]
        label_sums = self._voter_labels + _label_sums(targets, voters)
        self._publish(*grown, label_sums)
        self._store = store

    def _publish(self, *arrays: np.ndarray | None) -> None:
        """Set the kept rows and what ``transform`` needs from them, all read-only."""
        embeddings, targets, voters, codes, voter_labels = arrays
        for array in (embeddings, targets, voters, voter_labels, codes):
            if array is not None:
                array.setflags(write=False)
        self.embeddings_, self.targets_ = embeddings, targets
        self._voters, self._voter_labels, self._codes = voters, voter_labels, codes

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # object's own is the live __dict__
        for derived in ("_voters", "_voter_labels", "_codes", "_store"):
            state.pop(derived, None)  # worked out again on loading; no spare room pickled
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "embeddings_" in state:  # unpickled or loaded arrays come back writable
            self._keep(self.embeddings_, self.targets_)

    def _targets(self, y: Any, n: int, **kwargs: Any) -> np.ndarray:
        encoded = self._encode_labels(y, n, **kwargs)
        if encoded.ndim == 2:
            return encoded
        onehot = np.zeros((len(encoded), len(self.classes_)), dtype=np.float32)
        onehot[np.arange(len(encoded)), encoded] = 1.0
        return onehot

    def transform(self, X: Any) -> np.ndarray:
        """The input followed by its neighbours' scaled log label lifts (or those alone).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), float32
            ``n_features_out`` is ``n_features_in_ + len(classes_)`` with ``"concat"``,
            ``len(classes_)`` with ``"tuned"``.
        """
        check_is_fitted(self)
        X = check_X(self, X, reset=False)
        lifts = np.empty((len(X), self.targets_.shape[1]), dtype=np.float32)
        step = self._query_rows(len(X))
        for start in range(0, len(X), step):
            rows = _unit_rows(X[start : start + step])
            lifts[start : start + len(rows)] = self._log_lift(rows)
        tuned = np.float32(self.scale) * lifts
        return tuned if self.output == "tuned" else np.hstack([X, tuned])

    def _query_rows(self, n_queries: int) -> int:
        """How many query rows to compare at once: ``batch_size``, or what fits in
        scikit-learn's ``working_memory``."""
        if self.batch_size is not None:
            return self.batch_size
        budget = get_config()["working_memory"] * 2**20
        n_labels = self.targets_.shape[1]
        k = self.n_neighbors  # indices, votes and label codes or rows of the neighbours
        per_query = len(self.embeddings_) * _BYTES_PER_PAIR + 40 * k
        per_query += 8 * n_labels * (k if self.multi_label_ else 1)
        return int(min(max(budget // per_query, 1), _MAX_QUERY_ROWS, max(n_queries, 1)))

    def _log_lift(self, queries: np.ndarray) -> np.ndarray:
        """log(share of each label among a query's neighbours / its share among the rows
        that could vote): 0 when the neighbours are no different from the rest."""
        voters, pool, codes = self._voters, self._voter_labels, self._codes
        similarity = queries @ self.embeddings_.T  # float32, a new array
        same = similarity >= _SAME_ROW  # the query itself, or a copy of it
        same &= voters
        similarity[same] = -np.inf
        if not voters.all():
            similarity[:, ~voters] = -np.inf
        similarity[~queries.any(axis=1)] = -np.inf
        k = min(self.n_neighbors, similarity.shape[1])
        closeness, nearest = (t.numpy() for t in torch.topk(torch.from_numpy(similarity), k))
        if self.temperature is None:
            votes = np.isfinite(closeness).astype(np.float32)
        else:  # sorted: the first column is the closest
            top = np.where(np.isfinite(closeness[:, :1]), closeness[:, :1], 0.0)
            votes = np.exp((closeness - top) / np.float32(self.temperature))
        votes = votes.astype(np.float64)  # exact counts: a share equal to the base gives 0
        totals = votes.sum(axis=1, keepdims=True)
        n_queries, n_labels = len(queries), self.targets_.shape[1]
        if codes is None:  # a 0/1 label matrix
            counts = np.einsum("qk,qkc->qc", votes, self.targets_[nearest])
        else:  # add each vote to its query's bin of its label
            bins = (np.arange(n_queries)[:, None] * n_labels + codes[nearest]).ravel()
            counts = np.bincount(bins, weights=votes.ravel(), minlength=n_queries * n_labels)
            counts = counts.reshape(n_queries, n_labels)
        shares = counts / np.maximum(totals, 1e-300)
        # the base rate among the rows that could vote: the excluded copies left out, so a
        # training row's own label is not under-counted (leave-one-out's bias on small data)
        query_of, copy_of = np.nonzero(same)  # about one copy per query: no dense product
        n_copies = np.bincount(query_of, minlength=n_queries)
        excluded = np.zeros((n_queries, n_labels))
        np.add.at(excluded, query_of, self.targets_[copy_of])  # exact sums of 0/1
        n_pool = voters.sum() - n_copies[:, None]
        base = (pool - excluded) / np.maximum(n_pool, 1)
        lift = np.log(np.maximum(shares, _FLOOR)) - np.log(np.maximum(base, _FLOOR))
        return np.where(totals > 0, lift, 0.0)  # no neighbour: no information

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns: ``kneighborstuner_<class>``, after the input names
        with ``output="concat"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names, checked against ``feature_names_in_`` when that is set.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        names_in = _check_feature_names_in(self, input_features)
        tuned = np.asarray([f"kneighborstuner_{c}" for c in self.classes_], dtype=object)
        return tuned if self.output != "concat" else np.concatenate([names_in, tuned])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
