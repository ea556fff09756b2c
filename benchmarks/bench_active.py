"""Active learning benchmark: query strategies against random sampling, query time, a tuner.

Three parts, on MiniLM embeddings of sst2 and emotion computed once through the embedding
cache (the training split is the pool; its gold labels answer every query):

* ``curves``: ``LogisticRegression`` refitted after every round, 10 random seed labels,
  rounds of 10 up to 500 labels, 5 seeds; the test split scored after every round. Per
  strategy: the normalised area under the learning curve (mean test accuracy over 10-500
  labels), its spread over the seeds, the paired difference to random sampling seed by
  seed; next to it the most-frequent baseline and LR on the whole training split. One
  picture per data set in docs/img/active_<data>.png.
* ``timing``: one query round (n=10) over a 100,000 x 384 pool (the emotion embeddings
  tiled with small noise, unit norm, float32) with 500 labelled rows and a fitted LR, for
  every strategy; 5 repeats, median and min-max.
* ``tuner``: margin sampling with LR alone against LR on a ``FeedForwardTuner`` space that
  is refitted on the labels so far every ``k`` rounds (the LR on top every round), same
  seeds and budget; at the tuner's defaults and at a small-data setting.

::

    flock /tmp/embkit-bench.lock .venv/bin/python -m benchmarks.bench_active
    python -m benchmarks.bench_active --cache /work/.embcache/minilm --parts curves
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from benchmarks._common import ROOT, environment, markdown_table, read_split, save_json

STRATEGIES = [
    "random", "least_confidence", "margin", "entropy", "coreset", "kmeans", "balanced-margin",
]  # fmt: skip


def embed(name: str, cache: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MiniLM embeddings and labels of the train and test splits, through the cache."""
    from embkit import SentenceEncoder

    encoder = SentenceEncoder(cache=cache, device="cpu", show_progress_bar=False)
    out: list[Any] = []
    for split in ("train", "test"):
        texts, labels = read_split(name, split)
        out += [encoder.fit_transform(texts), np.asarray(labels)]
    return tuple(out)  # type: ignore[return-value]


def lr() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def run_curves(name: str, data, args) -> dict[str, Any]:
    from embkit.active import curve_table, plot_learning_curves, simulate

    X, y, X_test, y_test = data
    majority = max(set(y_test.tolist()), key=y_test.tolist().count)
    baseline = float(np.mean(y_test == majority))
    full = float(lr().fit(X, y).score(X_test, y_test))
    print(f"\n{name}: pool {X.shape}, test {len(X_test)}; most frequent {baseline:.3f}, "
          f"LR on all {len(X)} labels {full:.3f}", flush=True)  # fmt: skip
    curves = []
    for strategy in args.strategies:
        for seed in range(args.seeds):
            start = time.perf_counter()
            curve = simulate(
                lr(), strategy, X, y, X_test, y_test, budget=args.budget,
                n_initial=args.initial, batch_size=args.batch, random_state=seed,
            )  # fmt: skip
            curves.append(curve)
            print(f"  {strategy:<17} seed {seed}: area {curve.area:.4f}, accuracy at "
                  f"{curve.n_labels[-1]} {curve.accuracy[-1]:.4f}, "
                  f"{time.perf_counter() - start:.0f}s", flush=True)  # fmt: skip
    rows = curve_table(curves)
    random_areas = {c.seed: c.area for c in curves if c.strategy == "random"}
    for row in rows:
        mine = {c.seed: c.area for c in curves if c.strategy == row["strategy"]}
        diffs = [mine[s] - random_areas[s] for s in mine if s in random_areas]
        row["area - random (mean, min..max)"] = (
            "-" if row["strategy"] == "random" or not diffs
            else f"{np.mean(diffs):+.4f} ({min(diffs):+.4f}..{max(diffs):+.4f})"
        )  # fmt: skip
        row["wins vs random"] = (
            "-" if row["strategy"] == "random" else f"{sum(d > 0 for d in diffs)}/{len(diffs)}"
        )
        query = [s for c in curves if c.strategy == row["strategy"] for s in c.query_seconds]
        row["median query s"] = f"{statistics.median(query):.3f}"
    fig = plot_learning_curves(
        curves, title=f"{name}: LR on MiniLM embeddings, {args.seeds} seeds (min-max shaded)"
    )
    picture = ROOT / "docs" / "img" / f"active_{name}.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(picture, dpi=90)
    print("\n" + markdown_table(rows), flush=True)
    print(f"picture: {picture.relative_to(ROOT)}")
    return {
        "data": name, "most_frequent": baseline, "lr_all_labels": full, "rows": rows,
        "curves": [c.to_dict() for c in curves], "picture": str(picture.relative_to(ROOT)),
    }  # fmt: skip


def run_timing(data, args) -> list[dict[str, Any]]:
    from embkit.active import make_strategy

    X, y = data[0], data[1]
    rng = np.random.default_rng(0)
    reps = -(-args.pool // len(X))
    pool = np.tile(X, (reps, 1))[: args.pool] + rng.normal(0, 0.01, (args.pool, X.shape[1]))
    pool = (pool / np.linalg.norm(pool, axis=1, keepdims=True)).astype(np.float32)
    labels = np.tile(y, reps)[: args.pool]
    labeled = rng.choice(args.pool, size=500, replace=False)
    clf = lr().fit(pool[labeled], labels[labeled])
    print(f"\ntiming: pool {pool.shape} {pool.dtype}, 500 labelled, n=10 per query", flush=True)
    rows = []
    for name in args.strategies:
        strategy = make_strategy(name)
        runs = []
        for rep in range(args.repeats):
            start = time.perf_counter()
            picks = strategy.query(
                pool, labeled, 10, estimator=clf, y=labels[labeled], random_state=rep
            )
            runs.append(time.perf_counter() - start)
            assert len(set(picks.tolist())) == 10
        med = statistics.median(runs)
        rows.append({
            "strategy": name, "repeats": len(runs), "median s": f"{med:.3f}",
            "min-max s": f"{min(runs):.3f}-{max(runs):.3f}",
            "under 1 s": "yes" if med < 1 else "no",
        })  # fmt: skip
        print(f"  {name:<17} {med:.3f}s ({min(runs):.3f}-{max(runs):.3f})", flush=True)
    print("\n" + markdown_table(rows))
    return rows


def tuned_curve(data, seed: int, args, tuner_params: dict[str, Any] | None) -> list[float]:
    """Margin sampling; LR alone (tuner_params None) or LR on a tuner refitted every k rounds."""
    from embkit import FeedForwardTuner
    from embkit.active import MarginSampling, RandomSampling

    X, y, X_test, y_test = data
    rng = np.random.default_rng(seed)
    labeled = RandomSampling().query(X, [], args.initial, random_state=rng)
    Z, Z_test = X, X_test
    accuracy = []
    for round_ in range(1 + (args.budget - args.initial) // args.batch):
        if tuner_params is not None and round_ % args.every == 0:
            tuner = FeedForwardTuner(**tuner_params, random_state=seed, device="cpu")
            tuner.fit(X[labeled], y[labeled])
            Z, Z_test = tuner.transform(X), tuner.transform(X_test)
        clf = lr().fit(Z[labeled], y[labeled])
        accuracy.append(float(clf.score(Z_test, y_test)))
        if labeled.size >= args.budget:
            break
        picks = MarginSampling().query(
            Z, labeled, args.batch, estimator=clf, y=y[labeled], random_state=rng
        )
        labeled = np.r_[labeled, picks]
    return accuracy


def run_tuner(name: str, data, args) -> list[dict[str, Any]]:
    from embkit.active import learning_curve_area

    contenders = {
        "LR alone (margin)": None,
        f"FeedForwardTuner() defaults, refit every {args.every} rounds + LR": {},
        f"FeedForwardTuner(256, batch_size=32, n_epochs=40), every {args.every} rounds + LR": {
            "hidden_dim": 256,
            "batch_size": 32,
            "n_epochs": 40,
        },  # fmt: skip
    }
    contenders = {
        label: params
        for i, (label, params) in enumerate(contenders.items())
        if i == 0 or str(i) in args.tuner_variants
    }
    n_labels = list(range(args.initial, args.budget + 1, args.batch))
    print(f"\ntuner in the loop on {name}", flush=True)
    rows, areas_of = [], {}
    for label, params in contenders.items():
        areas, finals, seconds = [], [], []
        for seed in range(args.tuner_seeds):
            start = time.perf_counter()
            acc = tuned_curve(data, seed, args, params)
            seconds.append(time.perf_counter() - start)
            areas.append(learning_curve_area(n_labels, acc))
            finals.append(acc[-1])
            print(f"  {label} seed {seed}: area {areas[-1]:.4f}, final {acc[-1]:.4f}, "
                  f"{seconds[-1]:.0f}s", flush=True)  # fmt: skip
        areas_of[label] = areas
        base = areas_of["LR alone (margin)"]
        rows.append({
            "data": name, "contender": label, "seeds": len(areas),
            "area (mean ± sd)": f"{np.mean(areas):.4f} ± {np.std(areas):.4f}",
            "area - LR alone": "-" if params is None
            else f"{np.mean(np.subtract(areas, base)):+.4f}",
            f"accuracy at {args.budget}": f"{np.mean(finals):.4f} ± {np.std(finals):.4f}",
            "run s (median)": f"{statistics.median(seconds):.1f}",
            "details": {"area": areas, f"accuracy at {args.budget}": finals, "run_s": seconds},
        })  # fmt: skip
    print("\n" + markdown_table([{k: v for k, v in r.items() if k != "details"} for r in rows]))
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["sst2", "emotion"])
    parser.add_argument("--parts", nargs="+", default=["curves", "timing", "tuner"])
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--initial", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--pool", type=int, default=100_000, help="timing pool rows")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats")
    parser.add_argument("--every", type=int, default=5, help="tuner refit every k rounds")
    parser.add_argument("--tuner-seeds", type=int, default=3)
    parser.add_argument(
        "--tuner-variants", nargs="*", default=["1", "2"],
        help="tuner settings beside LR alone: 1 defaults, 2 small-data",
    )  # fmt: skip
    parser.add_argument("--cache", default=str(ROOT / ".cache" / "bench-embeddings"))
    parser.add_argument("--out", default="active", help="results/<out>.json")
    args = parser.parse_args(argv)
    env = environment()
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    result: dict[str, Any] = {"environment": env, "settings": vars(args)}
    data = {name: embed(name, args.cache) for name in args.datasets}
    if "curves" in args.parts:
        result["curves"] = [run_curves(name, data[name], args) for name in args.datasets]
    if "timing" in args.parts:
        source = data.get("emotion") or next(iter(data.values()))
        result["timing"] = run_timing(source, args)
    if "tuner" in args.parts:
        result["tuner"] = [
            row for name in args.datasets for row in run_tuner(name, data[name], args)
        ]
    print(f"saved {save_json(result, args.out)}")
    return result


if __name__ == "__main__":
    main()
