"""Fast encoders: transformer vs int8 vs static (model2vec), alone and with FeedForwardTuner.

For each data set (emotion, sst2), one after the other in the same process:

* **throughput**: ``fit_transform`` of the test split's texts by a fresh encoder (shared
  model already loaded, no embedding cache), ``--repeats`` times with the three encoders
  interleaved so machine noise hits them alike; median, spread and ratio to the
  transformer. A ``+ tuner`` row adds the tuner's ``transform`` time to the encoder's;
* **accuracy**: ``LogisticRegression(max_iter=3000)`` trained on the train split's vectors
  and scored on the test split, on the raw vectors and on ``FeedForwardTuner()`` (default
  parameters, ``random_state`` 0, 1, 2: median and spread) fitted on the train split;
* **int8 fidelity**: mean (and minimum) cosine between int8 and float32 test vectors.

Encoders: ``SentenceEncoder()`` (all-MiniLM-L6-v2, float32), ``SentenceEncoder(quantize=
"int8")`` and ``StaticEncoder()`` (MiniLM distilled once with model2vec, dim 256, kept in
``.cache/static-models``; the one-off distillation time is reported when it happens).
Train/test vectors of the transformers go through the embedding cache
``.cache/bench-embeddings`` (shared with bench_tuners); throughput never uses it.
Run from the project root (needs ../shared/data)::

    flock /tmp/embkit-bench.lock .venv/bin/python -m benchmarks.bench_fast_encoders

``--datasets sst2`` reruns one data set and saves ``fast_encoders_sst2.json`` beside the
full run's ``fast_encoders.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from benchmarks._common import (
    ROOT,
    Timings,
    environment,
    markdown_table,
    read_split,
    save_json,
    without_memory_cache,
)

STATIC_DIR = ROOT / ".cache" / "static-models"
VECTOR_CACHE = ROOT / ".cache" / "bench-embeddings"
NAMES = ("transformer", "int8", "static")


def make_encoder(name: str, cache: Any = None):
    """A fresh encoder of kind ``name`` (progress bars off, CPU)."""
    from embkit import SentenceEncoder, StaticEncoder

    common = {"device": "cpu", "show_progress_bar": False, "cache": cache}
    if name == "transformer":
        return SentenceEncoder(batch_size=64, **common)
    if name == "int8":
        return SentenceEncoder(batch_size=64, quantize="int8", **common)
    return StaticEncoder(cache_dir=STATIC_DIR, **common)


def prepare_static() -> dict[str, float]:
    """Distil (once, if not on disk yet) and time it; then time a load from disk."""
    from embkit._core.models import clear_models

    start = time.perf_counter()
    encoder = make_encoder("static").set_params(show_progress_bar=None).fit(["x"])
    first = time.perf_counter() - start
    clear_models()
    start = time.perf_counter()
    make_encoder("static").fit(["x"])
    load = time.perf_counter() - start
    print(f"static model {encoder.model_path_}: first fit {first:.1f}s, load {load * 1e3:.0f} ms")
    return {"first_fit_s": first, "load_from_disk_s": load}


def lr_accuracy(Z_train, y_train, Z_test, y_test) -> float:
    from sklearn.linear_model import LogisticRegression

    return float(LogisticRegression(max_iter=3000).fit(Z_train, y_train).score(Z_test, y_test))


def run_dataset(name: str, repeats: int, seeds: list[int], limit: int | None) -> dict[str, Any]:
    from embkit import FeedForwardTuner

    train_texts, y_train = (part[:limit] for part in read_split(name, "train"))
    test_texts, y_test = (part[:limit] for part in read_split(name, "test"))
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    print(f"\n{name}: {len(train_texts):,} train / {len(test_texts):,} test texts", flush=True)

    # Throughput on the test texts; warm-up loads every shared model first.
    for enc in NAMES:
        make_encoder(enc).fit_transform(test_texts[:64])
    timings = Timings()
    for repeat in range(repeats):
        for enc in NAMES:
            with timings.measure(enc):
                make_encoder(enc).fit_transform(test_texts)
        print(
            f"  repeat {repeat + 1}: "
            + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in timings.seconds.items()),
            flush=True,
        )

    # Vectors of both splits (cached for the transformers), LR and tuner accuracy.
    vectors = {}
    for enc in NAMES:
        encoder = make_encoder(enc, cache=None if enc == "static" else VECTOR_CACHE)
        start = time.perf_counter()
        vectors[enc] = (encoder.fit_transform(train_texts), encoder.transform(test_texts))
        print(f"  {enc}: vectors in {time.perf_counter() - start:.1f}s", flush=True)
    Q, F = vectors["int8"][1], vectors["transformer"][1]
    cosine = np.sum(Q * F, axis=1) / (np.linalg.norm(Q, axis=1) * np.linalg.norm(F, axis=1))
    print(f"  int8 vs float32 cosine: mean {cosine.mean():.4f}, min {cosine.min():.4f}")

    majority = max(set(y_test.tolist()), key=y_test.tolist().count)
    rows = [
        {
            "data": name,
            "pipeline": "most frequent class",
            "texts/s (median, min-max)": "-",
            "x transformer": "-",
            "LR test accuracy": f"{np.mean(y_test == majority):.3f}",
        }
    ]
    ref = statistics.median(timings.seconds["transformer"])
    n = len(test_texts)
    details: dict[str, Any] = {}
    for enc in NAMES:
        Z_train, Z_test = vectors[enc]
        runs = timings.seconds[enc]
        median = statistics.median(runs)
        plain = lr_accuracy(Z_train, y_train, Z_test, y_test)
        rows.append(
            {
                "data": name,
                "pipeline": enc,
                "texts/s (median, min-max)": (
                    f"{n / median:,.0f} ({n / max(runs):,.0f}-{n / min(runs):,.0f})"
                ),
                "x transformer": f"{ref / median:.1f}",
                "LR test accuracy": f"{plain:.3f}",
            }
        )
        accs, fit_s, transform_s = [], [], []
        for seed in seeds:
            tuner = FeedForwardTuner(random_state=seed, device="cpu")
            start = time.perf_counter()
            tuner.fit(Z_train, y_train)
            fit_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            T_test = tuner.transform(Z_test)
            transform_s.append(time.perf_counter() - start)
            accs.append(lr_accuracy(tuner.transform(Z_train), y_train, T_test, y_test))
            print(f"  {enc} + tuner seed {seed}: fit {fit_s[-1]:.1f}s, acc {accs[-1]:.3f}")
        total = median + statistics.median(transform_s)
        rows.append(
            {
                "data": name,
                "pipeline": f"{enc} + FeedForwardTuner()",
                "texts/s (median, min-max)": f"{n / total:,.0f}",
                "x transformer": f"{ref / total:.1f}",
                "LR test accuracy": (
                    f"{statistics.median(accs):.3f} ({min(accs):.3f}-{max(accs):.3f})"
                ),
            }
        )
        details[enc] = {
            "encode_seconds": runs,
            "lr_accuracy": plain,
            "tuner_accuracy": accs,
            "tuner_fit_seconds": fit_s,
        }
    details["int8_cosine"] = {"mean": float(cosine.mean()), "min": float(cosine.min())}
    return {"rows": rows, "details": details}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=["emotion", "sst2"])
    parser.add_argument("--limit", type=int, default=None, help="first N texts (smoke runs)")
    args = parser.parse_args(argv)
    without_memory_cache()  # every repeat runs the model
    env = environment(["model2vec", "torchao"])
    print(", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    static = prepare_static()
    rows, details = [], {}
    for name in args.datasets:
        result = run_dataset(name, args.repeats, args.seeds, args.limit)
        rows += result["rows"]
        details[name] = result["details"]
    table = markdown_table(rows)
    print("\n" + table)
    result = {"environment": env, "static": static, "rows": rows, "details": details}
    if args.limit is None:  # a rerun of some data sets keeps the full run's file
        default = parser.get_default("datasets")
        name = "_".join(["fast_encoders", *([] if args.datasets == default else args.datasets)])
        print(f"saved {save_json(result, name)}")
    return result


if __name__ == "__main__":
    main()
