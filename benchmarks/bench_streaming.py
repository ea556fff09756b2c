"""Streaming benchmark: ``partial_fit`` over 1,000,000 x 384 float32 rows in batches of 10,000.

Each tuner runs in its own process. The rows are the emotion training embeddings tiled
62.5 times with a little Gaussian noise (so no two rows are equal), held in one float32
array (1.46 GiB). After the data exist, the process's peak-RSS counter is reset
(``/proc/self/clear_refs``), the tuner makes one pass per batch, and the new peak is read:
the target is a peak of no more than the data plus 300 MB.

    flock /tmp/embkit-bench.lock .venv/bin/python -m benchmarks.bench_streaming
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

import numpy as np

from benchmarks._common import environment, markdown_table, save_json


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _stream(name: str, n_rows: int, batch: int, queue: Any) -> None:
    import torch  # noqa: F401  (imported before measuring, like the library itself)

    from benchmarks.bench_tuners import embed
    from embkit import ContrastiveTuner, FeedForwardTuner

    X_small, y_small, _, _ = embed("emotion")
    classes = np.unique(y_small)
    tuner = {"FeedForwardTuner": FeedForwardTuner, "ContrastiveTuner": ContrastiveTuner}[name](
        random_state=0, device="cpu"
    )
    rng = np.random.default_rng(0)
    X = np.empty((n_rows, X_small.shape[1]), dtype=np.float32)
    for start in range(0, n_rows, len(X_small)):
        stop = min(start + len(X_small), n_rows)
        X[start:stop] = X_small[: stop - start]
        X[start:stop] += rng.normal(scale=0.01, size=(stop - start, X.shape[1])).astype(np.float32)
    y = np.resize(y_small, n_rows)
    data_mb = X.nbytes / 2**20
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")  # reset the peak-RSS counter
    rss_before = _status_mb("VmRSS")
    start = time.perf_counter()
    for i in range(0, n_rows, batch):
        tuner.partial_fit(X[i : i + batch], y[i : i + batch], classes=classes)
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    queue.put(
        {
            "tuner": f"{name}() defaults",
            "rows": f"{n_rows:,}",
            "batches": n_rows // batch,
            "seconds": f"{seconds:.1f}",
            "rows/s": f"{n_rows / seconds:,.0f}",
            "data MB": f"{data_mb:,.0f}",
            "RSS after data MB": f"{rss_before:,.0f}",
            "peak RSS MB": f"{peak:,.0f}",
            "peak - RSS after data MB": f"{peak - rss_before:,.0f}",
            "target (<= 300 MB)": "met" if peak - rss_before <= 300 else "MISSED",
            "details": {"seconds": seconds, "rss_after_data_mb": rss_before, "peak_rss_mb": peak},
        }
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args(argv)
    env = environment()
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    ctx = mp.get_context("spawn")
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}  # the unrounded measurements
    for name in ("FeedForwardTuner", "ContrastiveTuner"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_stream, args=(name, args.rows, args.batch, queue))
        proc.start()
        rows.append(queue.get())
        details[rows[-1]["tuner"]] = rows[-1].pop("details")
        proc.join()
        print(rows[-1], flush=True)
    print("\n" + markdown_table(rows))
    result = {"environment": env, "rows": rows, "details": details}
    print(f"saved {save_json(result, 'streaming')}")
    return result


if __name__ == "__main__":
    main()
