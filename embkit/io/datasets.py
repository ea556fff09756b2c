"""Load labelled texts from JSONL, CSV and ``text;label`` files.

Every loader reads the file lazily, line by line, checks each row and reports a bad row
as ``path:line: reason``. With ``on_error="raise"`` (the default) the first bad row is a
``ValueError``; with ``on_error="skip"`` bad rows are dropped and one
:class:`SkippedRowsWarning` at the end says how many and which lines.

Blank lines are not rows: they are ignored silently in every format. Texts and labels are
returned unchanged (no stripping, no lower-casing); a text that is empty or only whitespace
is a bad row.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

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

PathType = str | PathLike
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
}
_FORMATS = ("jsonl", "csv", "tsv", "txt")
_CATS_VALUES = {0: 0, 1: 1}


class SkippedRowsWarning(UserWarning):
    """Bad rows were skipped because ``on_error="skip"`` was given.

    Attributes
    ----------
    path : str
        The file that was read.
    problems : list of (int, str)
        ``(line number, reason)`` for every skipped row.
    """

    def __init__(self, path: PathType, problems: list[tuple[int, str]]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        shown = "; ".join(f"line {line}: {why}" for line, why in self.problems[:3])
        more = f"; and {len(self.problems) - 3} more" if len(self.problems) > 3 else ""
        super().__init__(f"skipped {self.n_skipped} bad rows in {self.path} ({shown}{more})")

    @property
    def n_skipped(self) -> int:
        """Number of rows that were skipped."""
        return len(self.problems)


class _BadRow(Exception):
    """A problem with one row; becomes a ValueError or a skipped row."""


# --------------------------------------------------------------------------------------
# Public loaders


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
        ``ValueError`` naming the file and line, or skipped with a
        :class:`SkippedRowsWarning` that counts them.
    limit : int or None, default=None
        Stop after this many good rows.

    Returns
    -------
    texts : list of str
    labels : list or None
        Labels as stored in the file (str, int, ...), or ``None`` without ``label_field``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.jsonl"
    >>> _ = path.write_text('{"text": "great film", "label": "pos"}\\n'
    ...                     '{"text": "dull", "label": "neg"}\\n')
    >>> load_jsonl(path)
    (['great film', 'dull'], ['pos', 'neg'])
    """
    return _collect(
        path, "jsonl", text_field=text_field, label_field=label_field, on_error=on_error,
        limit=limit,
    )  # fmt: skip


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
        Column names. ``label_field=None`` reads texts only. A column missing from the
        header is a ``ValueError`` whatever ``on_error`` says.
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
        Line numbers in messages are those of the first line of the record in the file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
    >>> _ = path.write_text('label,text\\npos,"great, really"\\nneg,dull\\n')
    >>> load_csv(path)
    (['great, really', 'dull'], ['pos', 'neg'])
    """
    is_tsv = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"][-1:] == [".tsv"]
    fmt = "tsv" if delimiter is None and is_tsv else "csv"
    return _collect(
        path, fmt, text_field=text_field, label_field=label_field, on_error=on_error,
        limit=limit, delimiter=delimiter,
    )  # fmt: skip


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
    return _collect(
        path, "txt", text_field="text", label_field=None if sep is None else "label",
        on_error=on_error, limit=limit, sep=sep,
    )  # fmt: skip


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

    ``.jsonl``/``.ndjson``/``.json`` (JSON lines) go to :func:`load_jsonl`, ``.csv`` and
    ``.tsv`` to :func:`load_csv`, ``.txt`` to :func:`load_txt` (``text;label`` rows); a
    trailing ``.gz`` is allowed.

    Parameters
    ----------
    path : str or path-like
        The file.
    format : {"jsonl", "csv", "tsv", "txt"} or None, default=None
        Overrides the suffix.
    text_field, label_field : str, default="text" and "label"
        Field (JSONL) or column (CSV) names; ignored for ``.txt``. ``label_field=None``
        reads texts only (for ``.txt``: one whole text per line).
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
    fmt = _format_of(path, format)
    sep = ";" if label_field is not None else None
    return _collect(
        path, fmt, text_field=text_field, label_field=label_field, on_error=on_error,
        limit=limit, sep=sep,
    )  # fmt: skip


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

    Records may be partially annotated, as in embetter's data: a record carries only the
    labels an annotator was asked about. A label absent from a record is **not annotated**,
    which is different from 0 ("annotated: does not apply"). It is written as ``missing``
    in the matrix.

    Parameters
    ----------
    path : str or path-like
        The JSONL file.
    text_field, cats_field : str, default="text" and "cats"
        Keys of the text and of the ``{label: value}`` dict.
    labels : sequence of str or None, default=None
        The label columns, in order. ``None`` uses every label seen, sorted. When given,
        keys outside ``labels`` are ignored.
    missing : int or float, default=-1
        Value for "not annotated". ``-1`` gives an ``int8`` matrix; ``0`` treats missing as
        negative (a plain 0/1 matrix for scikit-learn's multi-label estimators);
        ``numpy.nan`` gives a ``float32`` matrix.
    on_error : {"raise", "skip"}, default="raise"
        What a bad row does (bad JSON, missing/empty text, ``cats`` not a dict, a value
        other than 0/1/true/false).
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
    rows = _iter_checked(
        path, "jsonl", text_field=text_field, label_field=cats_field, on_error=on_error,
        limit=limit, cats=True,
    )  # fmt: skip
    texts: list[str] = []
    cats: list[dict[str, int]] = []
    for _, text, value in rows:
        texts.append(text)
        cats.append(value)
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

    Only one batch is held at a time. Formats, fields and ``on_error`` are as in
    :func:`load`; with ``on_error="skip"`` the :class:`SkippedRowsWarning` comes once the
    file is exhausted. ``labels`` is ``None`` when ``label_field`` is ``None``.

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
    from embkit._core.validation import check_positive_int

    check_positive_int(batch_size, "batch_size")
    fmt = _format_of(path, format)
    sep = ";" if label_field is not None else None
    rows = _iter_checked(
        path, fmt, text_field=text_field, label_field=label_field, on_error=on_error, sep=sep
    )
    texts: list[str] = []
    labels: list[Any] = []
    for _, text, label in rows:
        texts.append(text)
        labels.append(label)
        if len(texts) == batch_size:
            yield texts, (labels if label_field is not None else None)
            texts, labels = [], []
    if texts:
        yield texts, (labels if label_field is not None else None)


# --------------------------------------------------------------------------------------
# Implementation: raw rows per format, then one checking layer


def _format_of(path: PathType, format: str | None) -> str:
    if format is not None:
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {list(_FORMATS)}, got {format!r}")
        return format
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        known = ", ".join(sorted(_SUFFIX_FORMATS))
        raise ValueError(
            f"cannot tell the format of {path} from its name; use one of the suffixes "
            f"{known} (optionally + .gz) or give the format (format=, --format)"
        )
    return fmt


def _collect(path: PathType, fmt: str, **kwargs: Any) -> tuple[list[str], list[Any] | None]:
    texts: list[str] = []
    labels: list[Any] = []
    for _, text, label in _iter_checked(path, fmt, **kwargs):
        texts.append(text)
        labels.append(label)
    return texts, (labels if kwargs.get("label_field") is not None else None)


def _iter_checked(
    path: PathType,
    fmt: str,
    *,
    text_field: str,
    label_field: str | None,
    on_error: str,
    limit: int | None = None,
    sep: str | None = ";",
    delimiter: str | None = None,
    cats: bool = False,
) -> Iterator[tuple[int, str, Any]]:
    """Yield ``(line, text, label)`` for good rows; raise or collect the bad ones."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    path_str = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {path_str}")
    problems: list[tuple[int, str]] = []
    n_good = 0
    if limit == 0:
        return
    with _open_binary(path) as fh:
        lines = _decoded_lines(fh)
        if fmt == "jsonl":
            raw = _jsonl_rows(lines, text_field, label_field, cats)
        elif fmt in ("csv", "tsv"):
            delim = delimiter if delimiter is not None else ("\t" if fmt == "tsv" else ",")
            raw = _csv_rows(lines, path_str, text_field, label_field, delim)
        else:
            raw = _txt_rows(lines, sep)
        for line, row in raw:
            if isinstance(row, _BadRow):
                if on_error == "raise":
                    raise ValueError(f"{path_str}:{line}: {row}") from None
                problems.append((line, str(row)))
                continue
            yield (line, *row)
            n_good += 1
            if limit is not None and n_good >= limit:
                break
    if problems:
        _warn_skipped(SkippedRowsWarning(path_str, problems))


def _warn_skipped(warning: SkippedRowsWarning) -> None:
    """Warn at the first frame outside this module (the user's call)."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level)


def _open_binary(path: PathType) -> io.BufferedIOBase:
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _decoded_lines(fh: Iterable[bytes]) -> Iterator[tuple[int, str | _BadRow]]:
    """Number and decode the lines; a line that is not UTF-8 becomes a bad row."""
    for number, raw in enumerate(fh, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte order mark
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, _BadRow(f"not valid UTF-8 ({exc.reason} at byte {exc.start})")
        except EOFError as exc:  # pragma: no cover - gzip stream cut short
            yield number, _BadRow(f"file is truncated ({exc})")


def _check_text(value: Any, field: str, present: bool) -> str:
    if not present:
        raise _BadRow(f"no {field!r} field")
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise _BadRow(f"{field!r} is {kind}, expected a string")
    if not value.strip():
        raise _BadRow("empty text")
    return value


def _check_label(value: Any, field: str, present: bool) -> Any:
    if not present:
        raise _BadRow(f"no {field!r} field")
    if value is None:
        raise _BadRow(f"{field!r} is null")
    if isinstance(value, str) and not value.strip():
        raise _BadRow("empty label")
    if isinstance(value, (dict, list)):
        raise _BadRow(f"{field!r} is a {type(value).__name__}, expected one label")
    return value


def _check_cats(value: Any, field: str, present: bool) -> dict[str, int]:
    if not present:
        raise _BadRow(f"no {field!r} field")
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        raise _BadRow(f"{field!r} is {kind}, expected a dict {{label: 0 or 1}}")
    out = {}
    for key, v in value.items():
        if isinstance(v, bool) or (isinstance(v, (int, float)) and v in _CATS_VALUES):
            out[str(key)] = int(v)
        else:
            raise _BadRow(f"{field!r} value for {key!r} is {v!r}, expected 0 or 1")
    return out


def _jsonl_rows(
    lines: Iterable[tuple[int, str | _BadRow]],
    text_field: str,
    label_field: str | None,
    cats: bool,
) -> Iterator[tuple[int, tuple[str, Any] | _BadRow]]:
    import srsly

    for number, line in lines:
        if isinstance(line, _BadRow):
            yield number, line
            continue
        if not line.strip():
            continue
        try:
            try:
                record = srsly.json_loads(line)
            except ValueError as exc:
                cut = "" if line.endswith("\n") else ", the file may be truncated"
                raise _BadRow(f"bad JSON ({exc}{cut})") from None
            if not isinstance(record, dict):
                raise _BadRow(f"expected a JSON object, got {type(record).__name__}")
            text = _check_text(record.get(text_field), text_field, text_field in record)
            label = None
            if label_field is not None:
                check = _check_cats if cats else _check_label
                label = check(record.get(label_field), label_field, label_field in record)
            yield number, (text, label)
        except _BadRow as bad:
            yield number, bad


def _csv_rows(
    lines: Iterable[tuple[int, str | _BadRow]],
    path: str,
    text_field: str,
    label_field: str | None,
    delimiter: str,
) -> Iterator[tuple[int, tuple[str, Any] | _BadRow]]:
    state = {"line": 0, "bad": None}

    def source() -> Iterator[str]:
        for number, line in lines:
            state["line"] = number
            if isinstance(line, _BadRow):
                state["bad"] = line
                yield ""  # the csv reader sees a blank line; reported below
            else:
                yield line

    reader = csv.reader(source(), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    while True:
        start = state["line"] + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            cut = ", the file may be truncated" if "end of data" in str(exc) else ""
            yield start, _BadRow(f"bad CSV ({exc}{cut})")
            continue
        if state["bad"] is not None:
            yield state["line"], state["bad"]
            state["bad"] = None
            continue
        if not fields:
            continue
        if header is None:
            header = fields
            wanted = [text_field] + ([label_field] if label_field is not None else [])
            absent = [name for name in wanted if name not in header]
            if absent:
                raise ValueError(
                    f"{path}:1: no column {absent[0]!r} in the header (columns: "
                    f"{', '.join(header)}); choose the column with text_field/label_field"
                )
            i_text = header.index(text_field)
            i_label = header.index(label_field) if label_field is not None else None
            continue
        if len(fields) != len(header):
            yield start, _BadRow(f"{len(fields)} fields, the header has {len(header)}")
            continue
        try:
            text = _check_text(fields[i_text], text_field, True)
            label = None
            if i_label is not None:
                label = _check_label(fields[i_label], label_field, True)
            yield start, (text, label)
        except _BadRow as bad:
            yield start, bad


def _txt_rows(
    lines: Iterable[tuple[int, str | _BadRow]], sep: str | None
) -> Iterator[tuple[int, tuple[str, Any] | _BadRow]]:
    for number, line in lines:
        if isinstance(line, _BadRow):
            yield number, line
            continue
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if sep is None:
            yield number, (line, None)
            continue
        if sep not in line:
            yield number, _BadRow(f"no {sep!r} separator (expected text{sep}label)")
            continue
        text, label = line.rsplit(sep, 1)
        try:
            yield number, (_check_text(text, "text", True), _check_label(label, "label", True))
        except _BadRow as bad:
            yield number, bad
