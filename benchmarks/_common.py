"""Helpers shared by the benchmarks: data, environment, repeated timing, tables.

Typical use::

    from benchmarks._common import Timings, environment, markdown_table, read_split

    texts, labels = read_split("emotion", "train")
    timings = Timings()
    for _ in range(3):  # interleave the contenders so noise hits them alike
        with timings.measure("baseline"):
            baseline(texts)
        with timings.measure("embkit"):
            ours(texts)
    print(environment())
    print(markdown_table(timings.rows(reference="baseline", n_items=len(texts))))
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EMBKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def without_memory_cache() -> None:
    """Turn off the encoders' in-memory embedding cache in this process.

    Every encoder without ``cache=`` keeps its vectors in memory (``EMBKIT_MEMORY_CACHE_MB``,
    on by default): a benchmark that times the model must turn it off, or its second
    repeat over the same texts times a lookup.
    """
    os.environ["EMBKIT_MEMORY_CACHE_MB"] = "0"


def read_split(name: str, split: str) -> tuple[list[str], list[str]]:
    """Texts and labels of one split of a data set in ``../shared/data`` (JSONL)."""
    texts, labels = [], []
    with open(DATA / name / f"{split}.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(row["label"])
    return texts, labels


def environment(packages: Sequence[str] = ()) -> dict[str, Any]:
    """Versions, CPU, torch threads, the host and the time (UTC) of the record: what every
    published figure must state. The host and time tell apart runs that claim the
    benchmark lock at the same hour (the lock holds on one machine only)."""
    import torch

    names = ("embkit", "torch", "sentence-transformers", "transformers", "scikit-learn")
    versions = {}
    for name in (*names, *packages):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "host": platform.node(),
        "recorded_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        **versions,
    }


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name and its widest vector and matrix extensions, from
    /proc/cpuinfo: the same code ran twice as fast on a machine with AVX-512 and AMX as on
    an earlier one, so published speeds name the CPU ("unknown" where there is no
    /proc/cpuinfo)."""
    try:
        with open(cpuinfo) as file:
            info = file.read()
    except OSError:
        return "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), "unknown")  # fmt: skip
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines()
                      if line.startswith("flags")), []))  # fmt: skip
    extensions = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16",
                              "amx_int8") if f in flags]  # fmt: skip
    return f"{name} ({', '.join(extensions) or 'no AVX2'})"


class Timings:
    """Wall-clock and process CPU seconds of repeated runs, by contender (first-seen order).

    On a shared machine the wall clock also counts other people's jobs; the process CPU
    time (all threads) counts only this process's work, so ratios of CPU time are the
    steadier of the two when the machine is busy. Both are reported.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self.cpu_seconds: dict[str, list[float]] = {}

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.process_time()
        yield
        self.seconds.setdefault(name, []).append(time.perf_counter() - start)
        self.cpu_seconds.setdefault(name, []).append(time.process_time() - cpu)

    def rows(self, reference: str, n_items: int, unit: str = "texts") -> list[dict[str, Any]]:
        """One row per contender: medians, spread, throughput and speed-ups over ``reference``.

        A speed-up is ``median(reference) / median(contender)``: above 1 is faster.
        """
        ref = statistics.median(self.seconds[reference])
        ref_cpu = statistics.median(self.cpu_seconds[reference])
        rows = []
        for name, runs in self.seconds.items():
            median = statistics.median(runs)
            cpu = statistics.median(self.cpu_seconds[name])
            rows.append(
                {
                    "contender": name,
                    "runs": len(runs),
                    "median wall s": f"{median:.3f}",
                    "min-max wall s": f"{min(runs):.3f}-{max(runs):.3f}",
                    f"{unit}/s": f"{n_items / median:,.0f}",
                    "speed-up (wall)": f"{ref / median:.2f}x",
                    "median CPU s": f"{cpu:.3f}",
                    "speed-up (CPU)": f"{ref_cpu / max(cpu, 1e-9):.2f}x",
                }
            )
        return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A GitHub markdown table of ``rows`` (dicts with the same keys)."""
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(row[h]) for h in headers) + " |" for row in rows]
    return "\n".join(lines)


def save_json(result: dict[str, Any], name: str) -> Path:
    """Write ``result`` to ``benchmarks/results/<name>.json`` and return the path."""
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return out
