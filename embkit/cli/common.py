"""What the sub-commands share: the error type, option types and groups, reading DATA.

Every command reads its data through :func:`load_labelled` or :func:`load_texts` (bad rows
and ``--on-error skip`` reported on stderr, one line each) and reports news through
:func:`news` (silenced by ``--quiet``).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from embkit._core.models import DEFAULT_MODEL
from embkit._core.seeding import MAX_RANDOM_STATE


class CLIError(Exception):
    """A problem with the user's input: reported in one line, exit code 1."""


def fraction(value: str) -> float:
    """``--test-size``: a share strictly between 0 and 1."""
    try:
        size = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < size < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return size


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None


def positive_int(value: str) -> int:
    """An option that counts something: an integer >= 1."""
    number = _integer(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def seed_int(value: str) -> int:
    """A ``--seed`` option: an integer in [0, 2**32 - 1], as ``random_state`` takes."""
    number = _integer(value)
    if not 0 <= number <= MAX_RANDOM_STATE:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_RANDOM_STATE}, got {value}")
    return number


def add_data_options(p: argparse.ArgumentParser, *, labels: bool = True, model: bool = True):
    """The options every command reading DATA has: fields, bad rows, format, model, cache."""
    p.add_argument("--text-field", default="text", help="text field/column (default: text)")
    if labels:
        p.add_argument("--label-field", default="label", help="label field/column (default: label)")
    p.add_argument(
        "--on-error", choices=("raise", "skip"), default="raise",
        help="bad rows in the input files: stop with an error (default) or skip them with a count",
    )  # fmt: skip
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="read only the first N good rows of each input file",
    )
    p.add_argument(
        "--format", choices=("jsonl", "csv", "tsv", "txt"),
        help="file format (default: from the suffix)",
    )  # fmt: skip
    if model:
        p.add_argument(
            "--model", default=DEFAULT_MODEL,
            help=f"sentence-transformers model name or folder (default: {DEFAULT_MODEL}, "
            "bundled, offline)",
        )  # fmt: skip
    p.add_argument("--cache", metavar="DIR", help="embedding cache directory")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or news")


def add_split_options(p: argparse.ArgumentParser) -> None:
    """DATA and where the test texts come from: ``--test`` or a share of DATA."""
    p.add_argument("data", metavar="DATA", help="labelled texts")
    split = p.add_mutually_exclusive_group()
    split.add_argument("--test", metavar="DATA", help="labelled test texts (default: a split)")
    split.add_argument(
        "--test-size", type=fraction, default=0.2,
        help="share of DATA held out for testing, stratified (default: 0.2)",
    )  # fmt: skip


def check_out(path: str | None, *, folder: bool) -> None:
    """Refuse, before any work, an ``--out`` that cannot be written: a file where a folder
    is wanted (or below a file), a folder where a file is wanted."""
    if not path:
        return
    target = Path(path).absolute()
    if target.exists() and target.is_dir() != folder:
        kind, want = ("a file", "a folder") if folder else ("a folder", "a file name")
        raise CLIError(f"--out {path} is {kind}; give {want}")
    blocker = next(p for p in target.parents if p.exists())
    if not blocker.is_dir():
        raise CLIError(f"--out {path} cannot be created: {blocker} is a file, not a folder")


def news(args: argparse.Namespace) -> Callable[[str], None]:
    """A function that prints a line on stderr unless ``--quiet``."""

    def say(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr)

    return say


def _reading(reader: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a loader; report skipped rows (``--on-error skip``) on stderr, one line each."""
    from embkit.io.datasets import SkippedRowsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedRowsWarning)
        result = reader(*args, **kwargs)
    for item in caught:
        if issubclass(item.category, SkippedRowsWarning):
            print(f"embkit: warning: {item.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return result


def load_texts(path: str, args: argparse.Namespace) -> list[str]:
    """The texts of ``path`` (labels ignored), as the data options say; none is an error."""
    from embkit.io.datasets import load_texts

    texts = _reading(
        load_texts, path, format=args.format, text_field=args.text_field,
        on_error=args.on_error, limit=args.limit,
    )  # fmt: skip
    if not texts:
        raise CLIError(f"{path}: no texts found")
    return texts


def load_labelled(path: str, args: argparse.Namespace) -> tuple[list[str], list[Any]]:
    """Texts and labels of ``path``, as the data options say; none is an error."""
    from embkit.io.datasets import load

    texts, labels = _reading(
        load, path, format=args.format, text_field=args.text_field,
        label_field=args.label_field, on_error=args.on_error, limit=args.limit,
    )  # fmt: skip
    if not texts:
        raise CLIError(f"{path}: no labelled texts found")
    return texts, labels


def check_labels(labels: Sequence[Any], path: str) -> None:
    """At least two labels, all of one type."""
    kinds = {type(label).__name__ for label in labels}
    if len(kinds) > 1:
        raise CLIError(f"{path}: labels mix types ({', '.join(sorted(kinds))}); use one type")
    distinct = set(labels)
    if len(distinct) < 2:
        raise CLIError(
            f"{path}: only one label ({next(iter(distinct))!r}); at least two are needed"
        )
    fractional = [x for x in distinct if isinstance(x, float) and not x.is_integer()]
    if fractional:
        raise CLIError(
            f"{path}: labels must be classes (strings or whole numbers), got numbers such as "
            f"{sorted(fractional)[0]!r}"
        )


def train_test(args: argparse.Namespace, say: Callable[[str], None]) -> tuple:
    """``(train_texts, test_texts, y_train, y_test)`` from DATA and ``--test``/``--test-size``."""
    texts, labels = load_labelled(args.data, args)
    check_labels(labels, args.data)
    if not args.test:
        return _split(texts, labels, args, say)
    test_texts, y_test = load_labelled(args.test, args)
    _check_test_labels(labels, y_test, args.data, args.test)
    return texts, test_texts, labels, y_test


def _check_test_labels(train: Sequence[Any], test: Sequence[Any], data: str, path: str) -> None:
    """The test labels are of the training labels' type and mostly among them."""
    kinds = sorted({type(x).__name__ for x in train}), sorted({type(x).__name__ for x in test})
    if kinds[0] != kinds[1]:
        raise CLIError(
            f"{path}: its labels are {', '.join(kinds[1])} but those of {data} are "
            f"{', '.join(kinds[0])}; use one type in both files"
        )
    known = set(train)
    unseen = sorted({x for x in test if x not in known}, key=str)
    if len(unseen) == len(set(test)):
        raise CLIError(
            f"{path} shares no label with {data}: test {_few(unseen)}, training "
            f"{_few(sorted(known, key=str))}"
        )
    if unseen:
        count = sum(x not in known for x in test)
        print(
            f"embkit: warning: {count} of the {len(test)} test texts have labels that {data} "
            f"never shows ({_few(unseen)}): no pipeline can predict them",
            file=sys.stderr,
        )


def _few(labels: Sequence[Any]) -> str:
    shown = ", ".join(repr(x) for x in labels[:5])
    return shown + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")


def _split(texts: list[str], labels: list[Any], args: argparse.Namespace, say: Any) -> tuple:
    from collections import Counter

    from sklearn.model_selection import train_test_split

    _check_test_size(args.test_size, len(texts), args.data)
    counts = Counter(labels)
    stratify = labels if min(counts.values()) >= 2 else None
    try:
        parts = train_test_split(
            texts, labels, test_size=args.test_size, random_state=args.seed, stratify=stratify
        )
    except ValueError:
        say("note: the test split is too small to hold every label; splitting without strata")
        parts = train_test_split(texts, labels, test_size=args.test_size, random_state=args.seed)
    if stratify is None:
        rare = sorted(str(k) for k, v in counts.items() if v < 2)
        say(f"note: labels with a single example ({', '.join(rare)}): split without strata")
    train_texts, test_texts, y_train, y_test = parts
    if len(set(y_train)) < 2:
        raise CLIError(f"{args.data}: the training split has fewer than two labels")
    return train_texts, test_texts, y_train, y_test


def _check_test_size(size: float, n: int, path: str) -> None:
    """Refuse a ``--test-size`` that leaves fewer than two of the ``n`` texts for training."""

    def n_train(share: float) -> int:
        return n - math.ceil(share * n)  # train_test_split's rounding

    if n_train(size) >= 2:
        return
    if n < 3:
        raise CLIError(
            f"--test-size: the {n} texts in {path} are too few to split (2 for training, 1 for "
            "testing); give more texts or --test FILE"
        )
    largest = math.floor(100 * (n - 2) / n) / 100
    while n_train(largest) < 2:  # a float just above a whole number of test texts
        largest = round(largest - 0.01, 2)
    raise CLIError(
        f"--test-size {size} leaves {n_train(size)} of the {n} texts in {path} for training: "
        f"give a value above 0 and at most {largest:.2f} (keeps 2 for training), or --test FILE"
    )
