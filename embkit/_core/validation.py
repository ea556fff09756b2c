"""Input checks: text collections, and the parameter ranges of ``_parameter_constraints``.

Estimators declare their parameters with these ranges and call ``self._validate_params()``
at fit time (docs/architecture.md); the ``check_*`` functions serve plain functions.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval

POSITIVE_INT = Interval(numbers.Integral, 1, None, closed="left")
NON_NEGATIVE_INT = Interval(numbers.Integral, 0, None, closed="left")
POSITIVE = Interval(numbers.Real, 0, None, closed="neither")
NON_NEGATIVE = Interval(numbers.Real, 0, None, closed="left")
OPEN_UNIT = Interval(numbers.Real, 0, 1, closed="neither")  # (0, 1)
HALF_OPEN_UNIT = Interval(numbers.Real, 0, 1, closed="left")  # [0, 1)
MAX_LENGTH = Interval(numbers.Integral, 2, None, closed="left")  # tokens, [CLS] and [SEP] included

ACCEPTED_TEXTS = (
    "a list or tuple of str, a 1-D numpy array of str, a pandas Series or Index of str, "
    "or a one-column DataFrame"
)

_REFUSED = (
    (Mapping, " (a mapping: pass list(d.values()) or list(d))"),
    (AbstractSet, ", which has no order; pass a sorted list, e.g. sorted(texts)"),
    (
        Iterator,
        ", a one-shot iterator that a pipeline would read empty the second time; pass list(texts)",
    ),
)


def check_texts(texts: Any, *, name: str = "X", allow_empty: bool = True) -> list[str]:
    """Validate a 1-D collection of texts and return it as a new list.

    Accepted: a list, tuple, 1-D numpy array, pandas Series or Index of ``str``, or a
    one-column DataFrame (what ``ColumnTransformer`` passes). Refused with a ``TypeError``
    or ``ValueError`` naming the argument: a single string, ``None``, a mapping, a set, a
    one-shot iterator (a pipeline reads its input twice), non-``str`` items (``None``,
    ``NaN``, numbers, bytes, nested lists), 2-D input and text with lone surrogates.
    """
    items = _text_items(texts, name)
    if not items and not allow_empty:
        raise ValueError(f"{name} is empty: at least one text is required")
    bad = [i for i, t in enumerate(items) if not isinstance(t, str)]
    if bad:
        i = bad[0]
        value = items[i]
        kind = "NaN" if isinstance(value, float) and value != value else type(value).__name__
        hint = ""
        if isinstance(value, (bytes, bytearray)):
            hint = "; decode bytes first, e.g. b.decode('utf-8')"
        elif isinstance(value, (list, tuple, np.ndarray)):
            hint = "; a nested list: pass one flat list of texts"
        raise TypeError(
            f"{name} must contain only strings; item {i} is {kind} ({value!r})"
            + (f" and {len(bad) - 1} more items are not strings" if len(bad) > 1 else "")
            + hint
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


def _text_items(texts: Any, name: str) -> list[Any]:
    """The items of an accepted collection of texts, as a new list; refuse the rest."""
    expected = f"{name} must be a 1-D sequence of strings ({ACCEPTED_TEXTS})"
    if texts is None:
        raise TypeError(f"{expected}, got None")
    if isinstance(texts, (str, bytes, bytearray)):
        raise TypeError(
            f"{name} must be a 1-D sequence of strings (list, tuple, numpy array or pandas "
            f"Series), got a single {type(texts).__name__}; wrap it in a list: [{texts!r}]"
        )
    for kind, hint in _REFUSED:
        if isinstance(texts, kind):
            raise TypeError(f"{expected}, got a {type(texts).__name__}{hint}")
    if isinstance(texts, (list, tuple)):
        return list(texts)
    if isinstance(texts, np.ndarray) or _is_pandas(texts):
        if texts.ndim == 2 and hasattr(texts, "columns"):
            if texts.shape[1] != 1:
                raise ValueError(
                    f"{name} must be 1-D or a one-column DataFrame, got a DataFrame with "
                    f"{texts.shape[1]} columns"
                )
            texts = texts.iloc[:, 0]  # a one-column DataFrame, as ColumnTransformer passes it
        if texts.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got an array of shape {texts.shape}")
        return texts.tolist()
    raise TypeError(f"{expected}, got {type(texts).__name__}")


def _is_pandas(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "pandas" and hasattr(value, "ndim")


def check_positive_int(value: Any, name: str, low: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``low`` (a function's argument), else raise:
    a ``TypeError`` for a non-integer (``bool`` included), a ``ValueError`` below ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
