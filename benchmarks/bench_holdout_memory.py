"""Peak memory of ``fit`` with and without early stopping (each case in its own process).

FeedForwardTuner(256) on 100,000 x 384 rows and ContrastiveTuner(512, batch_size=1024) on
400,000 x 32 rows, random data, one pass. Prints the peak resident memory above the
process's level after the data was made (Linux ``VmHWM`` after resetting it).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from typing import Any

import numpy as np

from benchmarks._common import environment, markdown_table, save_json

CASES = ["feedforward", "contrastive"]


def _mb(field: str) -> float:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def _run(case: str, early: bool, queue: Any) -> None:
    from embkit import ContrastiveTuner, FeedForwardTuner

    rng = np.random.default_rng(0)
    if case == "feedforward":
        X = rng.standard_normal((100_000, 384), dtype=np.float32)
        est = FeedForwardTuner(256, n_epochs=1, random_state=0, device="cpu", early_stopping=early)
    else:
        X = rng.standard_normal((400_000, 32), dtype=np.float32)
        est = ContrastiveTuner(
            hidden_dim=512, n_epochs=1, batch_size=1024, random_state=0, device="cpu",
            early_stopping=early,
        )  # fmt: skip
    y = rng.integers(0, 6, len(X))
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = _mb("VmRSS")
    est.fit(X, y)
    queue.put({
        "tuner": case, "early_stopping": early, "rows x columns": f"{X.shape[0]:,} x {X.shape[1]}",
        "data MB": round(X.nbytes / 2**20, 1), "peak above data MB": round(_mb("VmHWM") - base),
        "best validation score": getattr(est, "best_validation_score_", None),
    })  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    ctx = mp.get_context("spawn")
    rows = []
    for case in CASES:
        for early in (True, False):
            queue = ctx.Queue()
            proc = ctx.Process(target=_run, args=(case, early, queue))
            proc.start()
            rows.append(queue.get())
            proc.join()
            print(rows[-1], flush=True)
    print("\n" + markdown_table(rows))
    result = {"environment": environment(), "rows": rows}
    print(f"saved {save_json(result, 'holdout_memory')}")
    return result


if __name__ == "__main__":
    main()
