"""``embkit label``: label texts in the terminal, the model choosing what to ask next.

Every answer is appended to the output file and flushed to disk before the next text is
shown, so a killed session loses nothing; running the same command again resumes from that
file. The texts are encoded once (through the embedding cache) and a
:class:`~embkit.active.ActiveLearner` with a logistic regression picks each next text.

Output records (JSON lines): ``{"id": ROW, "text": ..., "label": ...}`` for an answer and
``{"id": ROW, "text": ..., "skipped": true}`` for a skipped text; ``ROW`` is the text's
position among the texts of DATA.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embkit.cli.common import (
    CLIError,
    add_data_options,
    check_out,
    load_texts,
    news,
    positive_int,
    seed_int,
)

__all__ = ["add_parser", "run"]

LABEL_KEYS = "1234567890abcdefghijklmnoprtvwxyz"  # s (skip), u (undo) and q (quit) are taken


def add_parser(sub: Any) -> None:
    """Register ``embkit label`` on the sub-command parsers."""
    p = sub.add_parser(
        "label",
        help="label texts in the terminal, most useful first (active learning)",
        description="Show the texts of DATA one at a time, the one the model is least sure "
        "about first, with its current guess; press a key per label (s skip, u undo, q "
        "quit). Every answer is appended to --out at once; run the command again to resume.",
    )
    p.add_argument("data", metavar="DATA", help="texts to label (.jsonl, .csv, .txt)")
    p.add_argument("--out", required=True, metavar="LABELS.jsonl", help="answers (appended)")
    p.add_argument("--labels", required=True, metavar="A,B,C", help="the labels, comma-separated")
    p.add_argument("--budget", type=positive_int, metavar="N", help="stop after N labels")
    p.add_argument("--strategy", default="margin", metavar="NAME",
                   help="query strategy (default: margin; see docs/active.md)")  # fmt: skip
    p.add_argument("--initial", default="kmeans", choices=("random", "kmeans", "coreset"),
                   help="how to choose the first texts, before a model exists (default: "
                   "kmeans: one per cluster)")  # fmt: skip
    p.add_argument("--n-initial", type=positive_int, default=10, metavar="N",
                   help="texts in the seed set (default: 10)")  # fmt: skip
    p.add_argument("--seed", type=seed_int, default=0, help="seed of every random choice")
    add_data_options(p, labels=False)
    p.set_defaults(run=run)


def _parse_labels(text: str) -> list[str]:
    labels = [part.strip() for part in text.split(",")]
    if any(not label for label in labels):
        raise CLIError(f"--labels {text!r} has an empty label; give them as a,b,c")
    if len(set(labels)) != len(labels):
        raise CLIError(f"--labels {text!r} names a label twice")
    if len(labels) < 2:
        raise CLIError("--labels needs at least two labels, e.g. --labels positive,negative")
    if len(labels) > len(LABEL_KEYS):
        raise CLIError(f"--labels: at most {len(LABEL_KEYS)} labels (one key each)")
    return labels


class AnswerLog:
    """The output file: append-and-flush answers, truncate the last one on undo."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[tuple[int, dict[str, Any]]] = []  # (byte offset, record)

    def read(self, texts: list[str], labels: list[str]) -> list[str]:
        """Load earlier answers (checked against DATA and --labels); returns notes to show."""
        notes: list[str] = []
        if not self.path.exists():
            return notes
        data = self.path.read_bytes()
        offset = 0
        first_line: dict[int, int] = {}  # row -> the line that answered it
        for number, line in enumerate(data.splitlines(keepends=True), start=1):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if offset == len(data) and not line.endswith(b"\n"):  # cut off by a crash
                    with open(self.path, "r+b") as fh:
                        fh.truncate(start)
                    notes.append(f"dropped an unfinished last line of {self.path}")
                    break
                raise CLIError(f"{self.path}:{number}: not a JSON line") from None
            row = record.get("id") if isinstance(record, dict) else None
            if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < len(texts):
                raise CLIError(f"{self.path}:{number}: no valid 'id' (a row of DATA)")
            if row in first_line:  # e.g. two sessions writing to one file
                raise CLIError(
                    f"{self.path}:{number}: row {row} is answered twice (also on line "
                    f"{first_line[row]}); remove one of the two lines"
                )
            first_line[row] = number
            if record.get("text") != texts[row]:
                raise CLIError(
                    f"{self.path}:{number}: the text of row {row} differs from DATA; was this "
                    "file written for other data? (use another --out)"
                )
            if not record.get("skipped") and record.get("label") not in labels:
                raise CLIError(
                    f"{self.path}:{number}: label {record.get('label')!r} is not among --labels "
                    f"{','.join(labels)}"
                )
            self.records.append((start, record))
        return notes

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            offset = fh.tell()
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self.records.append((offset, record))

    def undo(self) -> dict[str, Any] | None:
        if not self.records:
            return None
        offset, record = self.records.pop()
        with open(self.path, "r+b") as fh:
            fh.truncate(offset)
            fh.flush()
            os.fsync(fh.fileno())
        return record


@contextmanager
def _key_reader(stream: Any) -> Iterator[Callable[[], str | None]]:
    """Read one answer at a time: a single key press on a terminal, else a line."""
    if stream.isatty():
        import termios
        import tty

        fd = stream.fileno()
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)  # keys arrive at once; Ctrl-C still interrupts

        def read_key() -> str | None:
            char = os.read(fd, 1).decode("utf-8", errors="replace")
            return None if char in ("", "\x04") else char

        try:
            yield read_key
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    else:

        def read_line() -> str | None:
            line = stream.readline()
            return None if line == "" else line.strip()

        yield read_line


def _show(text: str, row: int, guess: str, progress: str, keys: str, out: Any) -> None:
    width = max(40, min(100, shutil.get_terminal_size((80, 24)).columns) - 2)
    print(f"\n--- {progress} " + "-" * max(0, width - len(progress) - 5), file=out)
    print(f"#{row}", file=out)
    for paragraph in text.splitlines() or [""]:
        print(textwrap.fill(paragraph, width=width) or "", file=out)
    print(f"guess: {guess}", file=out)
    print(keys, file=out)
    print("> ", end="", file=out, flush=True)


def run(args: argparse.Namespace) -> int:
    """The ``embkit label`` command."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from embkit.active import ActiveLearner, make_strategy
    from embkit.encoders.sentence import SentenceEncoder

    say = news(args)
    labels = _parse_labels(args.labels)
    make_strategy(args.strategy)  # an unknown name fails before any encoding
    check_out(args.out, folder=False)
    texts = load_texts(args.data, args)
    if args.budget is not None and args.budget > len(texts):
        raise CLIError(f"--budget {args.budget} is larger than the {len(texts)} texts in DATA")
    log = AnswerLog(Path(args.out))
    for note in log.read(texts, labels):
        say(f"note: {note}")
    cache = args.cache or str(Path(args.out).resolve().parent / ".embkit-cache")
    say(f"encoding {len(texts)} texts (cache: {cache})")
    encoder = SentenceEncoder(
        args.model, cache=cache, show_progress_bar=False if args.quiet else None
    )
    X = encoder.fit_transform(texts)
    learner = ActiveLearner(
        LogisticRegression(max_iter=1000), args.strategy, initial=args.initial,
        n_initial=args.n_initial, batch_size=1, budget=args.budget, classes=labels,
        random_state=args.seed,
    )  # fmt: skip
    learner.start(X)
    done = [r for _, r in log.records if not r.get("skipped")]
    skipped = [r["id"] for _, r in log.records if r.get("skipped")]
    if done:
        learner.teach(X, [r["id"] for r in done], [r["label"] for r in done])
    if skipped:
        learner.skip(skipped)
    if log.records:
        say(f"resuming: {len(done)} labels and {len(skipped)} skips read from {args.out}")
    keys = {LABEL_KEYS[i]: label for i, label in enumerate(labels)}
    legend = "  ".join(f"[{k}] {v}" for k, v in keys.items()) + "   [s] skip  [u] undo  [q] quit"
    budget = f" of {args.budget}" if args.budget else ""
    out = sys.stdout
    queue: list[int] = []
    with _key_reader(sys.stdin) as read:
        while True:
            if learner.stop_reason_ in ("budget", "pool exhausted"):
                print(f"\n{learner.stop_reason_}: {learner.n_labeled_} labels in {args.out}",
                      file=out)  # fmt: skip
                return 0
            if not queue:
                queue = learner.query(X).tolist()
            row = queue[0]
            guess = "- (no model yet: it needs two labels)"
            if learner.estimator_ is not None:
                proba = learner.predict_proba(X[row : row + 1])[0]
                best = int(np.argmax(proba))
                guess = f"{learner.estimator_.classes_[best]} ({proba[best]:.2f})"
            progress = f"{learner.n_labeled_}{budget} labelled"
            _show(texts[row], row, guess, progress, legend, out)
            key = read()
            if key is None or key == "q":
                print(f"\nquit: {learner.n_labeled_} labels saved in {args.out}; run the same "
                      "command to resume", file=out)  # fmt: skip
                return 0
            print(key, file=out)
            if key in keys:
                log.append({"id": row, "text": texts[row], "label": keys[key]})
                learner.teach(X, [row], [keys[key]])
                queue.pop(0)
            elif key == "s":
                log.append({"id": row, "text": texts[row], "skipped": True})
                learner.skip([row])
                queue.pop(0)
            elif key == "u":
                record = log.undo()
                if record is None:
                    print("nothing to undo", file=out)
                    continue
                learner.forget(X, [record["id"]])
                what = "skip" if record.get("skipped") else f"label {record['label']!r}"
                print(f"undone: {what} of #{record['id']}", file=out)
                queue = [record["id"]]  # ask it again
            else:
                print(f"unknown key {key!r}: press one of {', '.join([*keys, 's', 'u', 'q'])}",
                      file=out)  # fmt: skip
