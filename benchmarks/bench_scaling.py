"""Scaling benchmark: a text grid search serially and on a 2-worker Dask cluster, with and without
the embedding cache; plus encoding throughput serially and with ``encode_bag``.

On a seeded subset of emotion's training split (2,000 texts by default), ``GridSearchCV``
(3 folds x 6 candidates, then the refit) over ``SentenceEncoder(cache=...)`` +
``ContrastiveTuner`` + ``LogisticRegression`` runs in four arms, interleaved in every
repeat:

* serial: ``n_jobs=None`` in this process (torch uses every core);
* dask: ``joblib.parallel_config(backend="dask")`` on a ``LocalCluster`` of 2 worker
  processes with 1 thread each (the same 2 cores);
* each with a fresh on-disk cache (``cache=``) and without one (``cache=None``).

For each arm: the wall time and how many texts reached the model (counted inside this
process and inside every worker), and the best parameters, which must agree across
arms. The models are loaded before timing, in this process and on every worker.

    flock /tmp/embkit-bench.lock .venv/bin/python -m benchmarks.bench_scaling
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks._common import environment, markdown_table, read_split, save_json

GRID = {
    "contrastivetuner__hidden_dim": [64, 128, 256],
    "contrastivetuner__learning_rate": [1e-3, 3e-3],
}


def install_counter() -> bool:
    """Count the texts ``SentenceTransformer.encode`` receives in this process."""
    import sentence_transformers as st

    if getattr(st, "_bench_texts", None) is None:
        encode = st.SentenceTransformer.encode
        st._bench_texts = [0]

        def counting(self, inputs, *args, **kwargs):
            st._bench_texts[0] += len(inputs)
            return encode(self, inputs, *args, **kwargs)

        st.SentenceTransformer.encode = counting
    return True


def read_counter() -> int:
    import sentence_transformers as st

    return st._bench_texts[0]


def warm_model() -> int:
    """Load the shared model in this process (so timing starts with it loaded)."""
    from embkit import SentenceEncoder

    return SentenceEncoder(device="cpu").fit([]).embedding_dim_


def subset(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    texts, labels = read_split("emotion", "train")
    idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=n, replace=False))
    return [texts[i] for i in idx], np.asarray(labels)[idx]


def search(cache: Any, n_jobs: int | None):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    from embkit import ContrastiveTuner, SentenceEncoder

    pipe = make_pipeline(
        SentenceEncoder(cache=cache, device="cpu", show_progress_bar=False),
        ContrastiveTuner(n_epochs=10, batch_size=256, random_state=0, device="cpu"),
        LogisticRegression(max_iter=1000),
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    return GridSearchCV(pipe, GRID, cv=cv, n_jobs=n_jobs)


def encoded(client: Any) -> int:
    """Texts encoded so far, in this process plus every worker."""
    total = read_counter()
    if client is not None:
        total += sum(client.run(read_counter).values())
    return total


def run_arm(texts, labels, *, cached: bool, client: Any, prefill: bool = False) -> dict[str, Any]:
    import dask.bag as db
    import joblib

    from embkit import SentenceEncoder
    from embkit.streaming.distributed import encode_bag

    with tempfile.TemporaryDirectory() as folder:
        before = encoded(client)
        start = time.perf_counter()
        if prefill:  # a pre-encoding pass: every text once, in parallel partitions
            encoder = SentenceEncoder(cache=folder, device="cpu", show_progress_bar=False)
            encode_bag(db.from_sequence(texts, npartitions=8), encoder, width=384).compute()
        if client is None:
            result = search(folder if cached else None, None).fit(texts, labels)
        else:
            with joblib.parallel_config(backend="dask"):
                result = search(folder if cached else None, -1).fit(texts, labels)
        seconds = time.perf_counter() - start
        n_encoded = encoded(client) - before
    return {
        "seconds": seconds,
        "encoded": n_encoded,
        "best_params": result.best_params_,
        "best_score": float(result.best_score_),
    }


def encoding_throughput(texts, client: Any) -> dict[str, float]:
    """Texts/s of a plain (uncached) encode here and of ``encode_bag`` on the cluster."""
    import dask.bag as db

    from embkit import SentenceEncoder
    from embkit.streaming.distributed import encode_bag

    encoder = SentenceEncoder(device="cpu", show_progress_bar=False).fit([])
    start = time.perf_counter()
    encoder.transform(texts)
    serial = time.perf_counter() - start
    bag = db.from_sequence(texts, npartitions=8)
    start = time.perf_counter()
    encode_bag(bag, SentenceEncoder(device="cpu", show_progress_bar=False), width=384).compute()
    dask = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        warm = SentenceEncoder(cache=folder, device="cpu", show_progress_bar=False).fit([])
        warm.transform(texts)
        start = time.perf_counter()
        warm.transform(texts)
        lookup = time.perf_counter() - start
    n = len(texts)
    return {"serial": n / serial, "dask": n / dask, "cache_hits": n / lookup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    texts, labels = subset(args.n_texts)
    install_counter()
    warm_model()
    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    client.run(install_counter)
    client.run(warm_model)
    startup = time.perf_counter() - start
    print(f"cluster of 2 workers up, model loaded on each, in {startup:.1f} s", flush=True)

    arms = {  # (name, cache): client, pre-encoding pass
        ("serial", "cache"): (None, False),
        ("dask 2 workers", "cache"): (client, False),
        ("dask 2 workers", "cache pre-filled by encode_bag"): (client, True),
        ("serial", "no cache"): (None, False),
        ("dask 2 workers", "no cache"): (client, False),
    }
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {arm: [] for arm in arms}
    throughput: list[dict[str, float]] = []
    try:
        for repeat in range(args.repeats):
            for (name, cache), (arm_client, prefill) in arms.items():
                cached = cache != "no cache"
                out = run_arm(texts, labels, cached=cached, client=arm_client, prefill=prefill)
                runs[(name, cache)].append(out)
                print(
                    f"repeat {repeat} {name}, {cache}: {out['seconds']:7.1f} s "
                    f"{out['encoded']:7d} texts encoded best={out['best_params']}",
                    flush=True,
                )
            throughput.append(encoding_throughput(texts, client))
            print(f"repeat {repeat} encoding texts/s {throughput[-1]}", flush=True)
    finally:
        client.close()
        cluster.close()

    reference = statistics.median(r["seconds"] for r in runs[("serial", "no cache")])
    rows = []
    best = {str(r["best_params"]) for arm_runs in runs.values() for r in arm_runs}
    for (name, cache), arm_runs in runs.items():
        seconds = [r["seconds"] for r in arm_runs]
        median = statistics.median(seconds)
        rows.append(
            {
                "arm": f"{name}, {cache}",
                "runs": len(seconds),
                "median s": f"{median:.1f}",
                "min-max s": f"{min(seconds):.1f}-{max(seconds):.1f}",
                "texts encoded": f"{statistics.median(r['encoded'] for r in arm_runs):,.0f}",
                "x serial no cache": f"{reference / median:.2f}",
                "best CV accuracy": f"{arm_runs[0]['best_score']:.3f}",
            }
        )
    enc = {k: statistics.median(t[k] for t in throughput) for k in throughput[0]}
    env = environment(["dask", "distributed", "dask-ml", "ray"])
    labels_of = {
        "serial": f"SentenceEncoder, this process ({env['torch_threads']} torch threads)",
        "dask": "encode_bag, 2 workers x 1 thread",
        "cache_hits": "warm cache lookups (SQLite), this process",
    }
    enc_rows = [{"what": labels_of[k], "texts/s": f"{v:,.0f}"} for k, v in enc.items()]
    print()
    print(f"{args.n_texts} emotion texts, 3 folds x 6 candidates + refit; {env}")
    print(f"same best parameters in every run: {len(best) == 1} {sorted(best)}")
    print(markdown_table(rows))
    print()
    print(markdown_table(enc_rows))
    path = save_json(
        {
            "n_texts": args.n_texts,
            "grid": GRID,
            "cluster_startup_s": startup,
            "runs": {f"{n}, {c}": r for (n, c), r in runs.items()},
            "encoding_texts_per_s": throughput,
            "same_best_params": len(best) == 1,
            "environment": env,
        },
        "bench_scaling",
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
