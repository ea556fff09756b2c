"""Reading labelled-text files row by row: the formats, the per-row checks, bad rows.

The public loaders of :mod:`embkit.io.datasets` all read through :func:`read_rows`: it opens the
file (``.gz`` decompressed on the fly), decodes and numbers the lines, parses them with
the format's parser and checks every row; a bad row is a ``ValueError`` naming
``path:line`` or, with ``on_error="skip"``, one :class:`SkippedRowsWarning` at the end.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import sys
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

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


def suffix_format(path: PathType) -> str | None:
    """The format the file name says (a trailing ``.gz`` is looked through), or ``None``."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    return _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None


def check_file(path: PathType) -> None:
    """Refuse a path that is no file: missing (FileNotFoundError) or a folder (ValueError)."""
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder, not a data file: give the file inside it")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {path}")


def format_of(path: PathType, format: str | None) -> str:
    if format is not None:
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {list(_FORMATS)}, got {format!r}")
        return format
    fmt = suffix_format(path)
    if fmt is None:
        known = ", ".join(sorted(_SUFFIX_FORMATS))
        raise ValueError(
            f"cannot tell the format of {path} from its name; use one of the suffixes "
            f"{known} (optionally + .gz) or give the format (format=, --format)"
        )
    return fmt


def collect(rows: Iterable[tuple[str, Any]], with_labels: bool) -> tuple[list[str], Any]:
    """``(texts, labels)`` from ``(text, label)`` rows; ``labels`` is ``None`` without labels."""
    texts: list[str] = []
    labels: list[Any] = []
    for text, label in rows:
        texts.append(text)
        labels.append(label)
    return texts, (labels if with_labels else None)


def read_any(
    path: PathType,
    format: str | None,
    text_field: str,
    label_field: str | None,
    on_error: str,
    limit: int | None,
) -> Iterator[tuple[str, Any]]:
    """The rows of ``load`` and ``iter_batches``: any format, by name or suffix."""
    check_file(path)
    fmt = format_of(path, format)
    sep = ";" if label_field is not None else None
    return read_rows(path, fmt, text_field, label_field, on_error, limit, sep=sep)


def read_rows(
    path: PathType,
    fmt: str,
    text_field: str,
    label_field: str | None,
    on_error: str,
    limit: int | None,
    *,
    sep: str | None = ";",
    delimiter: str | None = None,
    cats: bool = False,
) -> Iterator[tuple[str, Any]]:
    """Yield ``(text, label)`` for good rows; raise or collect the bad ones."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    path_str = str(path)
    check_file(path)
    problems: list[tuple[int, str]] = []
    n_good = 0
    if limit == 0:
        return
    with _open_binary(path) as fh:
        lines = _decoded_lines(fh)
        if fmt == "jsonl":
            raw = _per_line(lines, _jsonl_parser(text_field, label_field, cats))
        elif fmt in ("csv", "tsv"):
            delim = delimiter if delimiter is not None else ("\t" if fmt == "tsv" else ",")
            raw = _csv_rows(lines, path_str, text_field, label_field, delim)
        else:
            raw = _per_line(lines, _txt_parser(sep))
        for line, row in raw:
            if isinstance(row, _BadRow):
                if on_error == "raise":
                    raise ValueError(f"{path_str}:{line}: {row}") from None
                problems.append((line, str(row)))
                continue
            yield row
            n_good += 1
            if limit is not None and n_good >= limit:
                break
    if problems:
        _warn_skipped(SkippedRowsWarning(path_str, problems))


def _warn_skipped(warning: SkippedRowsWarning) -> None:
    """Warn at the first frame outside ``embkit.io`` (the user's call)."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("embkit.io."):
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level)


def _open_binary(path: PathType) -> io.BufferedIOBase:
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


Line = tuple[int, "str | _BadRow"]
Row = tuple[int, "tuple[str, Any] | _BadRow"]


def _decoded_lines(fh: Iterable[bytes]) -> Iterator[Line]:
    """Number and decode the lines; a line that is not UTF-8 becomes a bad row, and so does
    the place where the file cannot be read on (a ``.gz`` cut short, damaged or not gzip)."""
    lines = iter(fh)
    for number in itertools.count(1):
        try:
            raw = next(lines)
        except StopIteration:
            return
        except (EOFError, OSError, zlib.error) as exc:
            yield number, _BadRow(f"cannot read on: truncated or damaged ({exc})")
            return
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte order mark
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, _BadRow(f"not valid UTF-8 ({exc.reason} at byte {exc.start})")


def _per_line(lines: Iterable[Line], parse: Callable[[str], tuple[str, Any]]) -> Iterator[Row]:
    """Rows of a one-row-per-line format: blank lines skipped, ``parse`` may raise _BadRow."""
    for number, line in lines:
        if isinstance(line, _BadRow):
            yield number, line
        elif line.strip():
            try:
                yield number, parse(line)
            except _BadRow as bad:
                yield number, bad


def _field(record: dict, name: str) -> Any:
    if name not in record:
        names = ", ".join(repr(k) for k in list(record)[:8]) + (", ..." if len(record) > 8 else "")
        raise _BadRow(f"no {name!r} field (fields: {names or 'none'})")
    return record[name]


def _check_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise _BadRow(f"{field!r} is {kind}, expected a string")
    if not value.strip():
        raise _BadRow("empty text")
    return value


def _check_label(value: Any, field: str) -> Any:
    if value is None:
        raise _BadRow(f"{field!r} is null")
    if isinstance(value, str) and not value.strip():
        raise _BadRow("empty label")
    if isinstance(value, (dict, list)):
        raise _BadRow(f"{field!r} is a {type(value).__name__}, expected one label")
    return value


def _check_cats(value: Any, field: str) -> dict[str, int]:
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


def _jsonl_parser(
    text_field: str, label_field: str | None, cats: bool
) -> Callable[[str], tuple[str, Any]]:
    import srsly

    check = _check_cats if cats else _check_label

    def parse(line: str) -> tuple[str, Any]:
        try:
            record = srsly.json_loads(line)
        except ValueError as exc:
            cut = "" if line.endswith("\n") else ", the file may be truncated"
            array = line.lstrip().startswith("[") and not line.rstrip().endswith("]")
            hint = "; a JSON array over several lines? Write one object per line" if array else ""
            raise _BadRow(f"bad JSON ({exc}{cut}){hint}") from None
        if not isinstance(record, dict):
            raise _BadRow(
                f"expected a JSON object, got {type(record).__name__} (JSON lines: one object "
                "per line)"
            )
        text = _check_text(_field(record, text_field), text_field)
        if label_field is None:
            return text, None
        return text, check(_field(record, label_field), label_field)

    return parse


def _txt_parser(sep: str | None) -> Callable[[str], tuple[str, Any]]:
    def parse(line: str) -> tuple[str, Any]:
        line = line.rstrip("\r\n")
        if sep is None:
            return line, None
        if sep not in line:
            raise _BadRow(f"no {sep!r} separator (expected text{sep}label)")
        text, label = line.rsplit(sep, 1)
        return _check_text(text, "text"), _check_label(label, "label")

    return parse


def _span(start: int, end: int) -> str:
    """Say so when one bad row took several lines (a stray quote hides the rows after it)."""
    if end <= start:
        return ""
    return f"; lines {start}-{end} were read as this one row: an unmatched quote?"


def _csv_rows(
    lines: Iterable[Line], path: str, text_field: str, label_field: str | None, delimiter: str
) -> Iterator[Row]:
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
            yield start, _BadRow(f"bad CSV ({exc}{cut}){_span(start, state['line'])}")
            continue
        if state["bad"] is not None:
            yield state["line"], state["bad"]
            state["bad"] = None
            continue
        if not any(field.strip() for field in fields):  # blank, or only separators (",,")
            continue  # as spreadsheets export trailing empty rows
        if header is None:
            header = fields
            wanted = [text_field] + ([label_field] if label_field is not None else [])
            absent = [name for name in wanted if name not in header]
            if absent:
                raise ValueError(
                    f"{path}:1: no column {absent[0]!r} in the header (columns: "
                    f"{', '.join(header)}); choose the column with text_field/label_field "
                    "(--text-field/--label-field on the command line)"
                )
            i_text = header.index(text_field)
            i_label = header.index(label_field) if label_field is not None else None
            continue
        if len(fields) != len(header):
            span = _span(start, state["line"])
            yield start, _BadRow(f"{len(fields)} fields, the header has {len(header)}{span}")
            continue
        try:
            text = _check_text(fields[i_text], text_field)
            label = None if i_label is None else _check_label(fields[i_label], label_field)
            yield start, (text, label)
        except _BadRow as bad:
            yield start, bad
