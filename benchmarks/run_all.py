"""Run every ``benchmarks/bench_*.py`` module in turn, each in its own process.

    python -m benchmarks.run_all                 # all of them
    python -m benchmarks.run_all encoders sbert  # only those whose name contains a word

Each benchmark runs under the shared lock ``/tmp/embkit-bench.lock`` when ``flock`` is
available, so heavy jobs of several people on one machine do not overlap. The exit
status is non-zero when any benchmark failed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK = "/tmp/embkit-bench.lock"


def discover(words: list[str]) -> list[str]:
    """Module names of the benchmarks, sorted, filtered by ``words`` when given."""
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if words:
        names = [n for n in names if any(w in n for w in words)]
    return [f"benchmarks.{n}" for n in names]


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    modules = discover(words)
    if not modules:
        print(f"no benchmark matches {words}", file=sys.stderr)
        return 2
    prefix = ["flock", LOCK] if shutil.which("flock") else []
    failed = []
    for module in modules:
        print(f"\n=== {module} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([*prefix, sys.executable, "-m", module], cwd=HERE.parent)
        print(f"=== {module}: exit {code} after {time.perf_counter() - start:.0f}s ===")
        if code:
            failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
