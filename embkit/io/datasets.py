"""Load labelled texts from JSONL, CSV and ``text;label`` files.

Every loader reads lazily, line by line, and checks each row: a bad row is a ValueError
``path:line: reason`` (``on_error="raise"``) or dropped, with one :class:`SkippedRowsWarning`
at the end (``on_error="skip"``). Blank lines are ignored; texts and labels are returned
unchanged; an empty or whitespace-only text is a bad row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np

from embkit._core.validation import check_positive_int
from embkit.io._rows import (
    PathType,
    SkippedRowsWarning,
    collect,
    read_any,
    read_rows,
    suffix_format,
)

__all__ = [
    "SkippedRowsWarning",
    "iter_batches",
    "load",
    "load_cats",
    "load_csv",
    "load_jsonl",
    "load_texts",
    "load_txt",
]


def load_jsonl(
    path: PathType,
    *,
    text_field: str = "text",
    label_field: str | None = "label",
    on_error: str = "raise",
    limit: int | None = None,
) -> tuple[list[str], list[Any] | None]:
    """Read texts and labels from a JSON-lines file (one JSON object per line).

    Parameters
    ----------
    path : str or path-like
        The file; a ``.gz`` suffix is decompressed on the fly.
    text_field : str, default="text"
        Key of the text in every object.
    label_field : str or None, default="label"
        Key of the label. ``None`` reads texts only and returns ``labels=None``.
    on_error : {"raise", "skip"}, default="raise"
        What a bad row (bad JSON, missing or empty text, missing label) does: a
        ``ValueError`` naming file and line, or skipped (:class:`SkippedRowsWarning`).
    limit : int or None, default=None
        Stop after this many good rows.

    Returns
    -------
    texts : list of str
    labels : list or None
        As stored in the file (str, int, ...); ``None`` without ``label_field``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.jsonl"
    >>> _ = path.write_text('{"text": "great film", "label": "pos"}\\n'
    ...                     '{"text": "dull", "label": "neg"}\\n')
    >>> load_jsonl(path)
    (['great film', 'dull'], ['pos', 'neg'])
    """
    rows = read_rows(path, "jsonl", text_field, label_field, on_error, limit)
    return collect(rows, label_field is not None)


def load_csv(
    path: PathType,
    *,
    text_field: str = "text",
    label_field: str | None = "label",
    delimiter: str | None = None,
    on_error: str = "raise",
    limit: int | None = None,
) -> tuple[list[str], list[str] | None]:
    """Read texts and labels from a CSV file with a header row.

    Parameters
    ----------
    path : str or path-like
        The file; a ``.gz`` suffix is decompressed on the fly.
    text_field, label_field : str, default="text" and "label"
        Column names (a missing one is a ``ValueError``); ``label_field=None``: texts only.
    delimiter : str or None, default=None
        Field separator; ``None`` means a tab for ``.tsv`` files and a comma otherwise.
    on_error : {"raise", "skip"}, default="raise"
        What a bad row (wrong number of fields, empty text or label, broken quoting) does.
    limit : int or None, default=None
        Stop after this many good rows.

    Returns
    -------
    texts : list of str
    labels : list of str or None

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
    >>> _ = path.write_text('label,text\\npos,"great, really"\\nneg,dull\\n')
    >>> load_csv(path)
    (['great, really', 'dull'], ['pos', 'neg'])
    """
    fmt = "tsv" if delimiter is None and suffix_format(path) == "tsv" else "csv"
    rows = read_rows(path, fmt, text_field, label_field, on_error, limit, delimiter=delimiter)
    return collect(rows, label_field is not None)


def load_txt(
    path: PathType,
    *,
    sep: str | None = ";",
    on_error: str = "raise",
    limit: int | None = None,
) -> tuple[list[str], list[str] | None]:
    """Read a plain text file with one ``text;label`` row per line (the emotion format).

    The label is what follows the **last** separator, so texts may contain the separator.

    Parameters
    ----------
    path : str or path-like
        The file; a ``.gz`` suffix is decompressed on the fly.
    sep : str or None, default=";"
        The separator. ``None`` reads one text per line without labels.
    on_error : {"raise", "skip"}, default="raise"
        What a bad row (no separator, empty text or label) does.
    limit : int or None, default=None
        Stop after this many good rows.

    Returns
    -------
    texts : list of str
    labels : list of str or None

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.txt"
    >>> _ = path.write_text("i feel great;joy\\ni feel low; very low;sadness\\n")
    >>> load_txt(path)
    (['i feel great', 'i feel low; very low'], ['joy', 'sadness'])
    """
    return collect(
        read_rows(path, "txt", "text", "label", on_error, limit, sep=sep), sep is not None
    )


def load(
    path: PathType,
    *,
    format: str | None = None,
    text_field: str = "text",
    label_field: str | None = "label",
    on_error: str = "raise",
    limit: int | None = None,
) -> tuple[list[str], list[Any] | None]:
    """Read texts and labels, choosing the reader from the file suffix.

    ``.jsonl``/``.ndjson``/``.json`` go to :func:`load_jsonl`, ``.csv``/``.tsv`` to
    :func:`load_csv`, ``.txt`` to :func:`load_txt`; a trailing ``.gz`` is allowed.

    Parameters
    ----------
    path : str or path-like
        The file.
    format : {"jsonl", "csv", "tsv", "txt"} or None, default=None
        Overrides the suffix.
    text_field, label_field : str, default="text" and "label"
        Field or column names (not for ``.txt``); ``label_field=None`` reads texts only.
    on_error : {"raise", "skip"}, default="raise"
        See :func:`load_jsonl`.
    limit : int or None, default=None
        Stop after this many good rows.

    Returns
    -------
    texts : list of str
    labels : list or None

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.txt"
    >>> _ = path.write_text("so happy;joy\\nso sad;sadness\\n")
    >>> load(path)
    (['so happy', 'so sad'], ['joy', 'sadness'])
    """
    rows = read_any(path, format, text_field, label_field, on_error, limit)
    return collect(rows, label_field is not None)


def load_texts(
    path: PathType,
    *,
    format: str | None = None,
    text_field: str = "text",
    on_error: str = "raise",
    limit: int | None = None,
) -> list[str]:
    """Read texts only: a JSONL field, a CSV column, or one text per line of a ``.txt``.

    Any label in the file is ignored, so a labelled file works too (a ``.txt`` line is
    taken whole, separator and label included).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "new.txt"
    >>> _ = path.write_text("what a film\\n\\nnot for me\\n")
    >>> load_texts(path)
    ['what a film', 'not for me']
    """
    texts, _ = load(
        path, format=format, text_field=text_field, label_field=None, on_error=on_error,
        limit=limit,
    )  # fmt: skip
    return texts


def load_cats(
    path: PathType,
    *,
    text_field: str = "text",
    cats_field: str = "cats",
    labels: Sequence[str] | None = None,
    missing: float = -1,
    on_error: str = "raise",
    limit: int | None = None,
) -> tuple[list[str], np.ndarray, list[str]]:
    """Read multi-label JSONL records ``{"text": ..., "cats": {label: 0 or 1}}``.

    Records may be partially annotated (embetter's data): a label absent from a record is
    not annotated, unlike 0 ("does not apply"), and is written as ``missing``.

    Parameters
    ----------
    path : str or path-like
        The JSONL file.
    text_field, cats_field : str, default="text" and "cats"
        Keys of the text and of the ``{label: value}`` dict.
    labels : sequence of str or None, default=None
        The label columns, in order (other keys ignored); ``None``: every label, sorted.
    missing : int or float, default=-1
        Value for "not annotated": ``-1`` or ``0`` (an ``int8`` matrix; 0 treats missing as
        negative) or ``numpy.nan`` (``float32``).
    on_error : {"raise", "skip"}, default="raise"
        What a bad row (bad JSON, empty text, ``cats`` not a dict of 0/1) does.
    limit : int or None, default=None
        Stop after this many good rows.

    Returns
    -------
    texts : list of str
    Y : ndarray of shape (n_texts, n_labels)
        1 (applies), 0 (does not apply) or ``missing`` (not annotated).
    label_names : list of str
        The column names of ``Y``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cats.jsonl"
    >>> _ = path.write_text('{"text": "a new corpus", "cats": {"new-dataset": 1}}\\n'
    ...                     '{"text": "noisy labels", "cats": {"data-quality": 1, '
    ...                     '"new-dataset": 0}}\\n')
    >>> texts, Y, names = load_cats(path)
    >>> names
    ['data-quality', 'new-dataset']
    >>> Y
    array([[-1,  1],
           [ 1,  0]], dtype=int8)
    >>> load_cats(path, missing=0)[1]
    array([[0, 1],
           [1, 0]], dtype=int8)
    """
    missing_is_nan = isinstance(missing, float) and np.isnan(missing)
    if not missing_is_nan and missing not in (-1, 0):
        raise ValueError(f"missing must be -1, 0 or numpy.nan, got {missing!r}")
    rows = read_rows(path, "jsonl", text_field, cats_field, on_error, limit, cats=True)
    texts, cats = collect(rows, True)
    if labels is None:
        names = sorted({key for record in cats for key in record})
    else:
        names = [str(label) for label in labels]
        if len(set(names)) != len(names):
            raise ValueError(f"labels has duplicates: {names}")
    column = {name: j for j, name in enumerate(names)}
    dtype = np.float32 if missing_is_nan else np.int8
    Y = np.full((len(texts), len(names)), missing, dtype=dtype)
    for i, record in enumerate(cats):
        for key, value in record.items():
            j = column.get(key)
            if j is not None:
                Y[i, j] = value
    return texts, Y, names


def iter_batches(
    path: PathType,
    batch_size: int = 1024,
    *,
    format: str | None = None,
    text_field: str = "text",
    label_field: str | None = "label",
    on_error: str = "raise",
) -> Iterator[tuple[list[str], list[Any] | None]]:
    """Read a file lazily in batches of ``(texts, labels)``, for files larger than memory.

    Formats, fields and ``on_error`` are as in :func:`load` (a skip warning comes at the
    end of the file).

    Parameters
    ----------
    path : str or path-like
        The file.
    batch_size : int, default=1024
        Rows per batch; the last batch may be shorter.

    Yields
    ------
    texts : list of str
    labels : list or None

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "many.txt"
    >>> _ = path.write_text("".join(f"text {i};{i % 2}\\n" for i in range(5)))
    >>> for texts, labels in iter_batches(path, batch_size=2):
    ...     print(texts, labels)
    ['text 0', 'text 1'] ['0', '1']
    ['text 2', 'text 3'] ['0', '1']
    ['text 4'] ['0']
    """
    check_positive_int(batch_size, "batch_size")
    rows = read_any(path, format, text_field, label_field, on_error, None)
    while batch := list(islice(rows, batch_size)):
        yield collect(batch, label_field is not None)
