"""Input checks shared by the estimators: texts, labels and hyper-parameters.

Hyper-parameters are declared, as scikit-learn's own estimators do: a class lists its
parameters' constraints in ``_parameter_constraints`` (built from the ranges below) and
validates them at fit time with ``self._validate_params()``; the error names the parameter,
the estimator and what was expected. The ``check_*`` functions serve the arguments of
functions.
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


def check_texts(texts: Any, *, name: str = "X", allow_empty: bool = True) -> list[str]:
    """Validate a 1-D collection of texts and return it as a new list.

    Accepted: a list or tuple of ``str``, a 1-D numpy array of ``str`` (or of ``object``
    holding ``str``), a pandas ``Series`` or ``Index`` of ``str``, and a one-column
    ``DataFrame`` (what ``ColumnTransformer`` passes). Everything else is refused before any
    work is done, with a ``TypeError`` or ``ValueError`` that names the argument:

    * a single ``str`` or ``bytes`` (wrap it in a list), ``None``;
    * a mapping such as a ``dict`` (which texts: keys or values?), a ``set`` (no order, so
      rows could not be matched to outputs);
    * a generator or other one-shot iterator: a pipeline reads its input more than once
      (``fit`` then ``transform``, cross-validation folds), and a spent iterator would give
      nothing the second time; pass ``list(texts)``;
    * items that are not ``str``: ``None``, ``NaN`` (pandas' missing value), numbers,
      ``bytes`` (decode them first), nested lists;
    * a 2-D array or a DataFrame of several columns; text with lone surrogates.

    Parameters
    ----------
    texts : list, tuple, numpy array, pandas Series/Index or one-column DataFrame of str
        The texts.
    name : str, default="X"
        The argument name used in error messages.
    allow_empty : bool, default=True
        Whether an empty collection is accepted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> check_texts(("a", "b"))
    ['a', 'b']
    >>> check_texts("a")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: X must be a 1-D sequence of strings ... got a single str; wrap it in a list: ['a']
    >>> check_texts({"a": 1}, name="texts")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: texts must be ... got a dict (a mapping: pass list(d.values()) or list(d))
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
    if isinstance(texts, Mapping):
        raise TypeError(
            f"{expected}, got a {type(texts).__name__} (a mapping: pass list(d.values()) "
            "or list(d))"
        )
    if isinstance(texts, AbstractSet):
        raise TypeError(
            f"{expected}, got a {type(texts).__name__}, which has no order; pass a sorted "
            "list, e.g. sorted(texts)"
        )
    if isinstance(texts, Iterator):
        raise TypeError(
            f"{expected}, got a {type(texts).__name__}, a one-shot iterator that a pipeline "
            "would read empty the second time; pass list(texts)"
        )
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
    module = type(value).__module__
    return module.split(".")[0] == "pandas" and hasattr(value, "ndim")


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is an integer >= 1 (a function's argument), else raise.

    Examples
    --------
    >>> check_positive_int(3, "n_epochs")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)
