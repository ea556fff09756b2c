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


def _encode_partition(texts: Any, encoder: Any, width: int) -> np.ndarray:
    """Embed one partition on a worker with a fresh copy of ``encoder`` (shared model)."""
    # a one-column DataFrame partition is its column; list() would give its column names
    texts = check_texts(texts, name="a partition of the texts")
    local = clone(encoder).fit(texts[:1])
    vectors = local.transform(texts)
    if vectors.shape[1] != width:
        raise ValueError(
            f"width={width} but the encoder gives vectors of length {vectors.shape[1]}; "
            "pass the encoder's embedding width, or width=None to ask the encoder"
        )
    return vectors


def _width(encoder: Any) -> int:
    """The embedding width, from a fitted encoder or by fitting a copy here."""
    dim = getattr(encoder, "embedding_dim_", None)
    if dim is None:
        dim = clone(encoder).fit([]).embedding_dim_
    return int(dim)


def _encode_parts(parts: list[Any], encoder: Any, width: int | None) -> Any:
    dask, da = _import_dask()
    dim = _width(encoder) if width is None else check_positive_int(width, "width")
    encode = dask.delayed(_encode_partition, pure=True)
    blocks = [
        da.from_delayed(encode(part, encoder, dim), shape=(np.nan, dim), dtype=np.float32)
        for part in parts
    ]
    if not blocks:
        return da.empty((0, dim), dtype=np.float32)
    return da.concatenate(blocks, axis=0)


def encode_bag(bag: Any, encoder: Any, *, width: int | None = None) -> Any:
    """Embed a ``dask.bag`` of texts partition by partition.

    Parameters
    ----------
    bag : dask.bag.Bag of str
        The texts.
    encoder : SentenceEncoder, TransformerEncoder or another embkit text encoder
        Fitted or not; each task fits its own copy on the worker it runs on.
    width : int, default=None
        The embedding width; ``None`` reads it from the encoder (fitting a copy here if
        needed).

    Returns
    -------
    dask.array.Array of float32, shape (n_texts, width)
        One block per partition, of lengths unknown until computed.

    Examples
    --------
    >>> import dask.bag as db
    >>> from embkit import SentenceEncoder
    >>> texts = db.from_sequence(["a good day", "a bad day", "fine"], npartitions=2)
    >>> X = encode_bag(texts, SentenceEncoder(device="cpu"), width=384)
    >>> X.compute(scheduler="synchronous").shape
    (3, 384)
    """
    return _encode_parts(list(bag.to_delayed()), encoder, width)


def encode_series(series: Any, encoder: Any, *, width: int | None = None) -> Any:
    """Embed a ``dask.dataframe`` column of texts partition by partition.

    Parameters
    ----------
    series : dask.dataframe.Series of str
        The texts, e.g. ``ddf["text"]`` of ``dask.dataframe.read_json(..., lines=True)``.
    encoder : SentenceEncoder, TransformerEncoder or another embkit text encoder
        Fitted or not; each task fits its own copy on the worker it runs on.
    width : int, default=None
        The embedding width, as in :func:`encode_bag`.

    Returns
    -------
    dask.array.Array of float32, shape (n_texts, width)
        One block per partition, rows in the order of the series.

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
    return _encode_parts(list(series.to_delayed()), encoder, width)
