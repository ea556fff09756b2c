"""Encode a large corpus in parallel partitions on Dask (``pip install "embkit[dask]"``).

Each task gets a pickled encoder (the model's name only) and fits a copy on its worker,
where the process-wide model registry loads the model once. ``device="auto"`` resolves on
the worker. With ``cache=`` the workers share the SQLite cache (see ``docs/scaling.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from embkit._core.validation import check_positive_int, check_texts

__all__ = ["encode_bag", "encode_series"]


def _import_dask() -> tuple[Any, Any]:
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'embkit.streaming.distributed needs Dask: pip install "embkit[dask]"'
        ) from exc
    return dask, da


def _encode_partition(texts: Any, encoder: Any, width: int, number: int, rows: float) -> Any:
    """Embed partition ``number`` on a worker with a fresh copy of ``encoder`` (shared model)."""
    # a one-column DataFrame partition is its column; list() would give its column names
    name = f"partition {number} of the texts"
    try:
        items = check_texts(texts, name=name)
    except TypeError as exc:  # name the row by its index label, not its place in the part
        index = getattr(texts, "index", None)
        if index is None or not len(index):
            raise
        values = np.asarray(texts, dtype=object).reshape(len(index), -1)[:, 0]
        bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
        if bad is None:
            raise
        raise TypeError(f"{exc} (index label {index[bad]!r})") from None
    if rows == rows and len(items) != rows:  # rows is NaN when the lengths are unknown
        raise ValueError(f"{name} holds {len(items)} texts but lengths= says {int(rows)}")
    vectors = clone(encoder).fit(items[:1]).transform(items)
    if vectors.shape[1] != width:
        raise ValueError(
            f"width={width} but the encoder gives vectors of length {vectors.shape[1]}; "
            "pass the encoder's embedding width, or width=None to ask the encoder"
        )
    return vectors


def _count(part: Any) -> int:
    return len(part) if hasattr(part, "__len__") else sum(1 for _ in part)


def _width(encoder: Any) -> int:
    """The embedding width, from a fitted encoder or by fitting a copy here."""
    dim = getattr(encoder, "embedding_dim_", None)
    if dim is None:
        dim = clone(encoder).fit([]).embedding_dim_
    return int(dim)


def _row_counts(dask: Any, parts: list[Any], lengths: Any) -> list[float]:
    """The rows of every partition: NaN (unknown), counted here, or as given."""
    if lengths is False:
        return [np.nan] * len(parts)
    if lengths is True:
        return list(dask.compute(*[dask.delayed(_count)(part) for part in parts]))
    try:
        given = [check_positive_int(n, "lengths", low=0) for n in lengths]
    except (TypeError, ValueError):
        given = None
    if given is None or len(given) != len(parts):
        raise ValueError(
            f"lengths must be True, False or one row count per partition ({len(parts)}), "
            f"got {lengths!r}"
        )
    return given


def _encode_parts(
    parts: list[Any], encoder: Any, width: int | None, lengths: Any, what: str
) -> Any:
    dask, da = _import_dask()
    if not (hasattr(encoder, "get_params") and hasattr(encoder, "transform")):
        raise TypeError(
            f"encoder must be an embkit text encoder such as SentenceEncoder(), got "
            f"{type(encoder).__name__} ({encoder!r:.80}); {what} carries the texts"
        )
    dim = _width(encoder) if width is None else check_positive_int(width, "width")
    rows = _row_counts(dask, parts, lengths)
    encode = dask.delayed(_encode_partition, pure=True)
    blocks = [
        da.from_delayed(encode(part, encoder, dim, k, n), shape=(n, dim), dtype=np.float32)
        for k, (part, n) in enumerate(zip(parts, rows, strict=True))
    ]
    if not blocks:
        return da.empty((0, dim), dtype=np.float32)
    return da.concatenate(blocks, axis=0)


def encode_bag(
    bag: Any, encoder: Any, *, width: int | None = None, lengths: bool | Any = False
) -> Any:
    """Embed a ``dask.bag`` of texts partition by partition.

    Parameters
    ----------
    bag : dask.bag.Bag of str
        The texts.
    encoder : SentenceEncoder, TransformerEncoder or another embkit text encoder
        Fitted or not; each task fits its own copy on the worker it runs on.
    width : int, default=None
        The embedding width; ``None`` reads it from the encoder, which loads the model in
        this (the client's) process unless the encoder is fitted: pass it on a cluster.
    lengths : bool or sequence of int, default=False
        The rows of each partition, as in ``dask.dataframe.DataFrame.to_dask_array``:
        ``False`` leaves them unknown (``X.shape`` is ``(nan, width)``), ``True`` counts
        them now (the bag's steps run once more to count, without the model: persist a
        bag with a costly or random step first), or one count per partition.
        Known lengths let ``len(X)``, ``X.to_zarr(...)`` and dask-ml's ``score`` work.

    Returns
    -------
    dask.array.Array of float32, shape (n_texts, width)
        One block per partition.

    Raises
    ------
    TypeError
        If ``bag`` is not a ``dask.bag.Bag`` or ``encoder`` is not an estimator with
        ``transform``.

    Examples
    --------
    >>> import dask.bag as db
    >>> from embkit import SentenceEncoder
    >>> texts = db.from_sequence(["a good day", "a bad day", "fine"], npartitions=2)
    >>> X = encode_bag(texts, SentenceEncoder(device="cpu"), width=384)
    >>> X.compute(scheduler="synchronous").shape
    (3, 384)
    """
    import dask.bag as db

    if not isinstance(bag, db.Bag):
        raise TypeError(
            f"bag must be a dask.bag.Bag of texts, got {type(bag).__name__}; for a list use "
            "dask.bag.from_sequence(texts, npartitions=...)"
        )
    return _encode_parts(list(bag.to_delayed()), encoder, width, lengths, "bag")


def encode_series(
    series: Any, encoder: Any, *, width: int | None = None, lengths: bool | Any = False
) -> Any:
    """Embed a ``dask.dataframe`` column of texts partition by partition.

    Parameters
    ----------
    series : dask.dataframe.Series of str
        The texts, e.g. ``ddf["text"]`` of ``dask.dataframe.read_json(..., lines=True)``.
    encoder : SentenceEncoder, TransformerEncoder or another embkit text encoder
        Fitted or not; each task fits its own copy on the worker it runs on.
    width : int, default=None
        The embedding width, as in :func:`encode_bag`.
    lengths : bool or sequence of int, default=False
        The rows of each partition, as in :func:`encode_bag`.

    Returns
    -------
    dask.array.Array of float32, shape (n_texts, width)
        One block per partition, rows in the order of the series.

    Raises
    ------
    TypeError
        If ``series`` is not a dask Series or one-column DataFrame, or ``encoder`` is not
        an estimator with ``transform``.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> from embkit import SentenceEncoder
    >>> frame = pd.DataFrame({"text": ["a good day", "a bad day", "fine"]})
    >>> texts = dd.from_pandas(frame, npartitions=2)["text"]
    >>> X = encode_series(texts, SentenceEncoder(device="cpu"), width=384)
    >>> X.compute(scheduler="synchronous").shape
    (3, 384)
    """
    import dask.dataframe as dd

    frame = isinstance(series, dd.DataFrame)
    if not (isinstance(series, dd.Series) or (frame and len(series.columns) == 1)):
        what = f"a frame of {len(series.columns)} columns" if frame else type(series).__name__
        raise TypeError(
            f"series must be a dask.dataframe Series of texts (or a one-column frame), got "
            f"{what}; pick the column, e.g. ddf['text']"
        )
    return _encode_parts(list(series.to_delayed()), encoder, width, lengths, "series")
