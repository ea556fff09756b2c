"""Input checks shared by the estimators: texts, labels and hyper-parameters."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def check_texts(texts: Any, *, name: str = "X", allow_empty: bool = True) -> list[str]:
    """Validate a 1-D sequence of strings and return it as a list.

    Parameters
    ----------
    texts : list, tuple, numpy array or pandas Series of str
        The texts. A single string, ``None``, a 2-D array or non-string items are refused.
    name : str, default="X"
        The argument name used in error messages.
    allow_empty : bool, default=True
        Whether an empty sequence is accepted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> check_texts(("a", "b"))  # doctest: +ELLIPSIS
    ['a', 'b']
    >>> check_texts("a")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: X must be a 1-D sequence of strings ... got a single str; wrap it in a list: ['a']
    """
    if texts is None:
        raise TypeError(f"{name} must be a 1-D sequence of strings, got None")
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{name} must be a 1-D sequence of strings (list, tuple, numpy array or pandas "
            f"Series), got a single {type(texts).__name__}; wrap it in a list: [{texts!r}]"
        )
    if hasattr(texts, "ndim") and getattr(texts, "ndim", 1) != 1:
        shape = getattr(texts, "shape", None)
        if not (hasattr(texts, "columns") and shape is not None and shape[1] == 1):
            raise ValueError(f"{name} must be 1-D, got an array of shape {shape}")
        texts = texts.iloc[:, 0]  # a one-column DataFrame, as ColumnTransformer passes it
    if hasattr(texts, "tolist"):
        items = texts.tolist()
    elif isinstance(texts, Sequence) or hasattr(texts, "__iter__"):
        items = list(texts)
    else:
        raise TypeError(f"{name} must be a 1-D sequence of strings, got {type(texts).__name__}")
    if not items and not allow_empty:
        raise ValueError(f"{name} is empty: at least one text is required")
    bad = [i for i, t in enumerate(items) if not isinstance(t, str)]
    if bad:
        i = bad[0]
        value = items[i]
        kind = "NaN" if isinstance(value, float) and value != value else type(value).__name__
        raise TypeError(
            f"{name} must contain only strings; item {i} is {kind} ({value!r})"
            + (f" and {len(bad) - 1} more items are not strings" if len(bad) > 1 else "")
        )
    for i, text in enumerate(items):
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from undecodable bytes
                raise ValueError(
                    f"{name} item {i} is not valid Unicode text: {exc.reason} at position "
                    f"{exc.start} ({text[max(0, exc.start - 10) : exc.start + 10]!r}); decode "
                    "the source with errors='replace' or fix its encoding"
                ) from None
    return items


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum``, else raise a clear error.

    Examples
    --------
    >>> check_positive_int(3, "n_epochs")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (or >= 0), else raise.

    Examples
    --------
    >>> check_positive_float(0.1, "learning_rate")
    0.1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError``.

    Examples
    --------
    >>> check_choice("mean", "pooling", ("cls", "mean"))
    'mean'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
