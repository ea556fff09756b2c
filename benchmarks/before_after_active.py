"""Active learning hot spots, the code at a git revision against this working tree.

    flock /tmp/embkit-bench.lock .venv/bin/python -m benchmarks.before_after_active \\
        --before ef2b9cd

The package at ``--before`` is unpacked (``git archive``) into a temporary folder. Every
run is a fresh interpreter that imports embkit from there ("before") or from this working
tree ("after"), the two alternated ``--repeats`` times; each times one call on seeded
synthetic data (float32, 384 columns, blobs of 6 classes, unit-norm rows) and prints the
seconds and a digest of the rows it chose, so the table also says whether both chose the
same rows. Cases (``--cases`` picks some):

- ``balanced-coreset``: one ``ClassBalanced(CoreSet()).query`` of 10 rows; 20,000 rows,
  2,000 labelled (mostly two of the classes), a fitted ``LogisticRegression``.
- ``learner-run``: ``ActiveLearner(LogisticRegression(), budget=200, random_state=0).run``
  on 50,000 rows (10 seed rows, then 19 margin rounds of 10); ``learner-run-stopping``: the
  same with ``stopping=[StabilizingPredictions()]``.
- ``kmeans``: one ``KMeansSampling().query`` of 10 rows; 100,000 rows, 500 labelled; the
  peak of memory traced (``tracemalloc``) during a second, untimed query is reported too.

Writes ``benchmarks/results/before_after_active.json`` (``--out`` names another file).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
CASES = ("balanced-coreset", "learner-run", "learner-run-stopping", "kmeans")


def _pool(n_rows: int, seed: int = 0):
    import numpy as np

    gen = np.random.default_rng(seed)
    centres = gen.normal(size=(6, 384))
    y = gen.integers(6, size=n_rows)
    X = (centres[y] + 2.0 * gen.normal(size=(n_rows, 384))).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


def worker(case: str) -> dict:
    """Run one case once in this interpreter; seconds, digest of the chosen rows."""
    import hashlib
    import time
    import tracemalloc

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import embkit
    from embkit.active import (
        ActiveLearner,
        ClassBalanced,
        CoreSet,
        KMeansSampling,
        StabilizingPredictions,
    )

    peak = None
    if case == "balanced-coreset":
        X, y = _pool(20_000)
        gen = np.random.default_rng(1)
        weight = np.where(y < 2, 1.0, 0.1)
        labeled = gen.choice(X.shape[0], size=2000, replace=False, p=weight / weight.sum())
        clf = LogisticRegression(max_iter=1000).fit(X[labeled], y[labeled])
        strategy = ClassBalanced(CoreSet())
        start = time.perf_counter()
        rows = strategy.query(X, labeled, 10, estimator=clf, y=y[labeled], random_state=0)
    elif case.startswith("learner-run"):
        X, y = _pool(50_000)
        stopping = [StabilizingPredictions()] if case.endswith("stopping") else None
        learner = ActiveLearner(
            LogisticRegression(max_iter=1000), budget=200, stopping=stopping, random_state=0
        )
        start = time.perf_counter()
        rows = learner.run(X, y).labeled_
    elif case == "kmeans":
        X, _ = _pool(100_000)
        labeled = np.random.default_rng(1).choice(X.shape[0], size=500, replace=False)
        start = time.perf_counter()
        rows = KMeansSampling().query(X, labeled, 10, random_state=0)
        seconds = time.perf_counter() - start
        tracemalloc.start()
        KMeansSampling().query(X, labeled, 10, random_state=0)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        raise ValueError(f"unknown case {case!r}; known: {', '.join(CASES)}")
    if peak is None:
        seconds = time.perf_counter() - start
    digest = hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:12]
    return {"seconds": seconds, "digest": digest, "peak_mib": peak, "embkit": embkit.__file__}


def run_once(tree: Path, case: str) -> dict:
    """One case in a fresh interpreter importing embkit from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(HERE), "--worker", case],
        cwd=tempfile.gettempdir(), env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["embkit"].startswith(str(tree)):
        raise RuntimeError(f"embkit came from {result['embkit']}, not from {tree}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD~1", help="git revision of the old code")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="before_after_active", help="results/<out>.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    from benchmarks._common import environment, markdown_table, save_json

    root = HERE.parent.parent
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", args.before, "embkit"], cwd=root, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"before": Path(tmp), "after": root}
        runs: dict[tuple[str, str], list[dict]] = {}
        for case in args.cases:
            for _ in range(args.repeats):  # alternated, so the machine's noise hits both
                for name, tree in trees.items():
                    runs.setdefault((case, name), []).append(run_once(tree, case))
    rows = []
    for case in args.cases:
        before, after = runs[(case, "before")], runs[(case, "after")]
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in
               (("before", before), ("after", after))}  # fmt: skip
        peaks = [r["peak_mib"] for r in before + after]
        rows.append({
            "case": case, "repeats": args.repeats,
            "before median s (min-max)": f"{med['before']:.3f} "
            f"({min(r['seconds'] for r in before):.3f}-{max(r['seconds'] for r in before):.3f})",
            "after median s (min-max)": f"{med['after']:.3f} "
            f"({min(r['seconds'] for r in after):.3f}-{max(r['seconds'] for r in after):.3f})",
            "speed-up": f"{med['before'] / med['after']:.2f}x",
            "peak MiB before / after": "-" if peaks[0] is None
            else f"{statistics.median(r['peak_mib'] for r in before):.0f} / "
            f"{statistics.median(r['peak_mib'] for r in after):.0f}",
            "same rows": all(r["digest"] == before[0]["digest"] for r in before + after),
        })  # fmt: skip
    print(markdown_table(rows))
    load = os.getloadavg()
    print("load average before / after:", " / ".join(f"{x:.2f}" for x in load_before), "|",
          " / ".join(f"{x:.2f}" for x in load))  # fmt: skip
    save_json(
        {"before": args.before, "environment": environment(), "rows": rows,
         "load_before": load_before, "load_after": load,
         "runs": {f"{c} {n}": v for (c, n), v in runs.items()}},
        args.out,
    )  # fmt: skip


if __name__ == "__main__":
    main()
