"""Run every ``benchmarks/bench_*.py`` module in turn, each in its own process.

    python -m benchmarks.run_all                 # all of them
    python -m benchmarks.run_all encoders tuners  # only bench_<name> whose name has a word

Each benchmark runs while holding the shared lock ``/tmp/embkit-bench.lock``, so heavy
jobs of several people on one machine do not overlap. Do not wrap ``run_all`` itself in
``flock`` on that file (it would wait for itself); pass ``--no-lock`` to skip locking.
The exit status is non-zero when any benchmark failed.
"""

from __future__ import annotations

import fcntl
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
        names = [n for n in names if any(w in n.removeprefix("bench_") for w in words)]
    return [f"benchmarks.{n}" for n in names]


def run_locked(module: str, lock: bool) -> int:
    """Run one benchmark module in a fresh interpreter, holding the lock if asked."""
    command = [sys.executable, "-m", module]
    if not lock:
        return subprocess.call(command, cwd=HERE.parent)
    with open(LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {LOCK} (another benchmark is running)", flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        return subprocess.call(command, cwd=HERE.parent)  # the lock goes with the file


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    lock = "--no-lock" not in args
    words = [a for a in args if a != "--no-lock"]
    modules = discover(words)
    if not modules:
        print(f"no benchmark matches {words}", file=sys.stderr)
        return 2
    failed = []
    for module in modules:
        print(f"\n=== {module} ===", flush=True)
        start = time.perf_counter()
        code = run_locked(module, lock)
        print(f"=== {module}: exit {code} after {time.perf_counter() - start:.0f}s ===")
        if code:
            failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
