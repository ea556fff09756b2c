"""Pair sampling for contrastive training: pure numpy, seeded, vectorised.

Pairs are returned as index arrays into the data, never as copies of the vectors:
``X[idx1]`` and ``X[idx2]`` are gathered batch by batch while training.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from embkit._core.seeding import make_rng
from embkit._core.validation import check_positive_int

__all__ = ["make_grouped_pairs", "make_pairs", "pairs_from_cats", "sample_pairs"]


def _generator(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    return make_rng(random_state)


def sample_pairs(
    codes: np.ndarray, n_neg: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs for integer class ``codes``: one positive and ``n_neg`` negatives per row.

    The positive is another member of the row's class (itself in a class of one);
    negatives are drawn uniformly from other classes. No ``n x n`` matrix is built.
    Returns ``idx1, idx2`` (int64 row indices) and ``similar`` (float32, 1.0 or 0.0).
    """
    codes = np.asarray(codes)
    n = codes.shape[0]
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float32)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.cumsum(counts) - counts
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    size = counts[codes]
    start = starts[codes]

    # positive: another member of the same class, skipping the row itself
    offset = rng.integers(0, np.maximum(size - 1, 1))
    own = rank - start
    offset = offset + (offset >= own)
    offset = np.where(size > 1, offset, own)
    positives = order[start + offset]

    rows = np.arange(n)
    idx1 = [rows]
    idx2 = [positives]
    similar = [np.ones(n, dtype=np.float32)]
    others = n - size
    has_other = others > 0
    if n_neg > 0 and has_other.any():
        anchors = np.repeat(rows[has_other], n_neg)
        a_start = start[anchors]
        r = rng.integers(0, others[anchors])
        r = r + np.where(r >= a_start, size[anchors], 0)
        idx1.append(anchors)
        idx2.append(order[r])
        similar.append(np.zeros(len(anchors), dtype=np.float32))
    return (
        np.concatenate(idx1).astype(np.int64),
        np.concatenate(idx2).astype(np.int64),
        np.concatenate(similar),
    )


def _multilabel_pairs(
    Y: np.ndarray, n_neg: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts1, parts2, parts_s = [], [], []
    for column in Y.T:
        members = np.flatnonzero(column)
        if members.size == 0:
            continue
        outsiders = np.flatnonzero(column == 0)
        codes = np.zeros(members.size, dtype=np.int64)
        i1, i2, _ = sample_pairs(codes, 0, rng)
        parts1.append(members[i1])
        parts2.append(members[i2])
        parts_s.append(np.ones(members.size, dtype=np.float32))
        if n_neg > 0 and outsiders.size:
            anchors = np.repeat(members, n_neg)
            parts1.append(anchors)
            parts2.append(outsiders[rng.integers(0, outsiders.size, size=anchors.size)])
            parts_s.append(np.zeros(anchors.size, dtype=np.float32))
    if not parts1:  # no row has a label: no pairs (a batch may hold none)
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return np.concatenate(parts1), np.concatenate(parts2), np.concatenate(parts_s)


def check_some_label(Y: np.ndarray) -> None:
    """A ``ValueError`` when a 0/1 label matrix has no 1 at all: no pair can be formed."""
    if not Y.any():
        raise ValueError("y has no positive label in any column: cannot form positive pairs")


def draw_batch_pairs(
    groups: np.ndarray, n_neg: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-batch pairs for class codes (1-D) or a 0/1 label matrix (2-D)."""
    if groups.ndim == 2:
        return _multilabel_pairs(groups.astype(bool), n_neg, rng)
    _, codes = np.unique(groups, return_inverse=True)
    return sample_pairs(codes, n_neg, rng)


def make_pairs(
    y: Any, *, n_neg: int = 3, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample similar / dissimilar pairs of rows from labels.

    Parameters
    ----------
    y : array-like of shape (n,) or (n, n_labels)
        Class labels (any hashable type), or a 0/1 indicator matrix for multi-label data.
        Single-label: every row gets one positive partner from its own class (a class with
        one member pairs with itself) and ``n_neg`` negatives from other classes.
        Multi-label: for every label, each member gets one positive partner that also has
        the label and ``n_neg`` negatives that do not.
    n_neg : int, default=3
        Negatives per row (per row and label for multi-label ``y``).
    random_state : int, RandomState, Generator or None
        Seed for reproducible sampling.

    Returns
    -------
    idx1, idx2 : ndarray of int64, shape (n_pairs,)
        Row indices of the two sides of each pair (``n * (1 + n_neg)`` pairs for
        single-label ``y``).
    similar : ndarray of float32, shape (n_pairs,)
        1.0 for a similar pair, 0.0 for a dissimilar one.

    Examples
    --------
    >>> idx1, idx2, similar = make_pairs(["a", "a", "b", "b"], n_neg=1, random_state=0)
    >>> idx1.shape, similar.tolist()
    ((8,), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    """
    n_neg = check_positive_int(n_neg, "n_neg", low=0)
    if y is None:
        raise TypeError("y must be an array of labels, got None")
    y_arr = np.asarray(y)
    if y_arr.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D labels or a 2-D indicator matrix, got shape {y_arr.shape}")
    if y_arr.shape[0] == 0:
        raise ValueError("y is empty: at least two rows are required to make pairs")
    rng = _generator(random_state)
    if y_arr.ndim == 2:
        if not np.isin(y_arr, (0, 1)).all():
            raise ValueError("a 2-D y must be a 0/1 indicator matrix")
        check_some_label(y_arr)
        return _multilabel_pairs(y_arr.astype(bool), int(n_neg), rng)
    if y_arr.dtype.kind == "f" and np.isnan(y_arr).any():
        raise ValueError("y contains NaN")
    _, codes = np.unique(y_arr, return_inverse=True)
    if codes.max() == 0:
        raise ValueError("y has a single class: dissimilar pairs need at least two classes")
    return sample_pairs(codes, int(n_neg), rng)


def _next_round(order: np.ndarray, following: np.ndarray, size: int) -> np.ndarray:
    """``following`` reordered so that the group spanning the two rounds holds no row twice:
    the rows of its first part (the end of ``order``) move out of its second part."""
    t = len(order) % size
    if t == 0:
        return following
    first = np.flatnonzero(~np.isin(following, order[-t:]))[: size - t]
    head = np.zeros(len(following), dtype=bool)
    head[first] = True
    return np.concatenate([following[head], following[~head]])


def make_grouped_pairs(
    y: Any,
    *,
    group_size: int,
    n_rounds: int = 1,
    n_neg: int = 1,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs in groups: each run of ``group_size * (1 + n_neg)`` pairs uses ``group_size`` rows.

    Each round orders the rows with the classes interleaved in runs of two class-mates,
    cuts them into groups, and pairs every row with one positive and ``n_neg`` negatives
    of its own group (further positives when its class fills the group). A step on one
    group's pairs then encodes only ``group_size`` texts.

    Parameters
    ----------
    y : array-like of shape (n,)
        Class labels (at least two classes).
    group_size : int
        Rows per group (at least 2; at most ``n``). No group holds a row twice (a row paired
        with itself teaches nothing): a group spanning two rounds takes from the second only
        rows the first part does not hold.
    n_rounds : int, default=1
        Visits of every row; each round gives ``n * (1 + n_neg)`` pairs.
    n_neg : int, default=1
        Negatives per row and round.
    random_state : int, RandomState, Generator or None
        Seed for reproducible sampling.

    Returns
    -------
    idx1, idx2 : ndarray of int64, shape (n * n_rounds * (1 + n_neg),)
        Row indices of the two sides of each pair, group after group.
    similar : ndarray of float32
        1.0 for a similar pair, 0.0 for a dissimilar one.

    Examples
    --------
    >>> idx1, idx2, similar = make_grouped_pairs(
    ...     ["a", "a", "b", "b", "a", "a", "b", "b"], group_size=4, n_rounds=2, random_state=0
    ... )
    >>> len(idx1), int(similar.sum())
    (32, 16)
    >>> all(len(set(idx1[k:k + 8]) | set(idx2[k:k + 8])) <= 4 for k in range(0, 32, 8))
    True
    """
    group_size = check_positive_int(group_size, "group_size", low=2)
    n_rounds = check_positive_int(n_rounds, "n_rounds")
    n_neg = check_positive_int(n_neg, "n_neg", low=0)
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or y_arr.shape[0] < 2:
        raise ValueError(f"y must be 1-D labels of at least two rows, got shape {y_arr.shape}")
    _, codes = np.unique(y_arr, return_inverse=True)
    if codes.max() == 0:
        raise ValueError("y has a single class: dissimilar pairs need at least two classes")
    rng = _generator(random_state)
    size = min(int(group_size), len(codes))  # fewer rows than a group: a round is a group
    order = _interleaved_order(codes, rng)
    for _ in range(int(n_rounds) - 1):
        order = np.concatenate([order, _next_round(order, _interleaved_order(codes, rng), size)])
    parts1, parts2, parts_s = [], [], []
    for start in range(0, len(order), size):
        rows = order[start : start + size]
        _, local = np.unique(codes[rows], return_inverse=True)
        i1, i2, sim = sample_pairs(local, int(n_neg), rng)
        alone = np.flatnonzero(np.bincount(local)[local] == len(rows))  # no other class here
        if n_neg and alone.size:
            extra = [sample_pairs(local, 0, rng)[1][alone] for _ in range(int(n_neg))]
            i1 = np.concatenate([i1, np.tile(alone, int(n_neg))])
            i2 = np.concatenate([i2, *extra])
            sim = np.concatenate([sim, np.ones(alone.size * int(n_neg), dtype=np.float32)])
        parts1.append(rows[i1])
        parts2.append(rows[i2])
        parts_s.append(sim)
    return np.concatenate(parts1), np.concatenate(parts2), np.concatenate(parts_s)


def _interleaved_order(codes: np.ndarray, rng: np.random.Generator, run: int = 2) -> np.ndarray:
    """A random order of the rows in runs of ``run`` class-mates, the classes spread evenly."""
    perm = rng.permutation(len(codes))
    shuffled = codes[perm]
    counts = np.bincount(shuffled)
    rank = np.empty(len(perm), dtype=np.int64)
    by_class = np.argsort(shuffled, kind="stable")
    rank[by_class] = np.arange(len(perm)) - np.repeat(np.cumsum(counts) - counts, counts)
    block = rank // run  # the run a row belongs to, within its class
    n_blocks = -(-counts // run)
    first_of_class = np.cumsum(n_blocks) - n_blocks
    jitter = rng.random(int(n_blocks.sum()))[first_of_class[shuffled] + block]
    position = (block + jitter) / n_blocks[shuffled]  # rows of one run share a position
    return perm[np.lexsort((rank, position))]


def pairs_from_cats(
    records: Iterable[Mapping[str, Any]],
    *,
    n_neg: int = 3,
    random_state: Any = None,
    text_key: str = "text",
    cats_key: str = "cats",
) -> dict[str, tuple[list[str], list[str], np.ndarray]]:
    """Text pairs per label from partially annotated ``{"text", "cats"}`` records.

    Each record annotated 1 for a label gets one partner also annotated 1 (similar) and
    ``n_neg`` annotated 0 (dissimilar); records that do not annotate the label take no part.

    Parameters
    ----------
    records : iterable of dict
        Records like ``{"text": "...", "cats": {"label": 1, "other": 0}}``.
    n_neg : int, default=3
        Dissimilar partners per positive record.
    random_state : int, RandomState, Generator or None
        Seed for reproducible sampling.
    text_key, cats_key : str
        Field names of the text and of the annotation dictionary.

    Returns
    -------
    dict
        ``label -> (texts1, texts2, similar)`` with ``similar`` a float32 array of 1/0.

    Examples
    --------
    >>> records = [
    ...     {"text": "a new corpus", "cats": {"new-dataset": 1}},
    ...     {"text": "we release data", "cats": {"new-dataset": 1}},
    ...     {"text": "a proof", "cats": {"new-dataset": 0}},
    ... ]
    >>> pairs = pairs_from_cats(records, n_neg=1, random_state=0)
    >>> texts1, texts2, similar = pairs["new-dataset"]
    >>> similar.tolist()
    [1.0, 1.0, 0.0, 0.0]
    """
    n_neg = check_positive_int(n_neg, "n_neg", low=0)
    texts: list[str] = []
    annotated: dict[str, tuple[list[int], list[int]]] = {}
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(f"record {i} must be a dict, got {type(record).__name__}")
        text = record.get(text_key)
        cats = record.get(cats_key)
        if not isinstance(text, str):
            raise ValueError(f"record {i} has no string field {text_key!r}")
        if not isinstance(cats, Mapping):
            raise ValueError(f"record {i} has no dict field {cats_key!r}")
        row = len(texts)
        texts.append(text)
        for label, value in cats.items():
            if value not in (0, 1):
                raise ValueError(f"record {i}: {cats_key}[{label!r}] must be 0 or 1, got {value!r}")
            annotated.setdefault(label, ([], []))[int(value) == 0].append(row)
    rng = _generator(random_state)
    text_arr = np.array(texts, dtype=object)
    result: dict[str, tuple[list[str], list[str], np.ndarray]] = {}
    for label in sorted(annotated):
        positives, negatives = (np.array(rows, dtype=np.int64) for rows in annotated[label])
        if positives.size == 0:
            continue
        members = np.concatenate([positives, negatives])
        column = np.zeros((members.size, 1), dtype=bool)
        column[: positives.size, 0] = True
        i1, i2, similar = _multilabel_pairs(column, n_neg, rng)
        result[label] = (
            text_arr[members[i1]].tolist(),
            text_arr[members[i2]].tolist(),
            similar,
        )
    return result
