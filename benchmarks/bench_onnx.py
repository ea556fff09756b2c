"""ONNX Runtime vs torch: SentenceEncoder throughput, latency, fidelity and LR accuracy.

Three contenders, all all-MiniLM-L6-v2 on the CPU, batch size 64, in one process:
``torch fp32`` = ``SentenceEncoder()``, ``onnx fp32`` = ``SentenceEncoder(backend="onnx")``
and ``onnx int8`` = ``SentenceEncoder(backend="onnx", quantize="int8")``.

* **export**: the first fit of each ONNX encoder exports the model (into
  ``.cache/onnx``, kept between runs; the time is reported when it happens) and a second
  fit after clearing the in-process models times a load from disk;
* **throughput**: ``fit_transform`` of each data set's first ``--bulk`` test texts (1,000
  by default) by a fresh encoder
  (shared model loaded, no embedding cache), ``--repeats`` times, contenders interleaved
  so machine noise hits them alike: median, spread, speed-up over torch in wall-clock and
  in process CPU time (the steadier of the two on a busy machine);
* **latency**: ``transform`` of one text (20 different texts, mean per call) and of a
  batch of 32 texts (5 different batches), each repeat; medians over the repeats;
* **fidelity**: mean and minimum cosine of each contender's test vectors to torch's;
* **accuracy**: ``LogisticRegression(max_iter=3000)`` on the full train split's vectors,
  test-split accuracy, beside the most frequent class;
* **serving switch**: a ``make_pipeline(SentenceEncoder(), LogisticRegression())``
  fitted on torch vectors, switched with ``set_params(sentenceencoder__backend="onnx")``
  (and int8) without refitting: test predictions identical to torch's, counted.

Train/test vectors go through the embedding cache ``--cache`` (default
``.cache/bench-embeddings``, shared with the other benchmarks; each backend has its own
entries); throughput and latency never use it. Run from the project root (needs
../shared/data)::

    flock /tmp/embkit-bench.lock .venv/bin/python -m benchmarks.bench_onnx

Encoding the full splits is most of the work (about 27,000 texts per contender) and
times nothing: ``--warm-only`` does just that, outside the lock, so that the timed run
under the lock reads those vectors from the cache. ``--parts timing`` (throughput,
latency) and ``--parts accuracy`` (fidelity, accuracy, serving switch) run one half,
saved as ``onnx_timing.json`` / ``onnx_accuracy.json``; only the timing half needs the
lock.
"""

from __future__ import annotations

import argparse
import os
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

os.environ.setdefault("EMBKIT_CACHE_DIR", str(ROOT / ".cache"))  # exports in .cache/onnx

VECTOR_CACHE = ROOT / ".cache" / "bench-embeddings"
CONTENDERS = {
    "torch fp32": {},
    "onnx fp32": {"backend": "onnx"},
    "onnx int8": {"backend": "onnx", "quantize": "int8"},
}


def make_encoder(name: str, cache: Any = None):
    from embkit import SentenceEncoder

    return SentenceEncoder(
        device="cpu", batch_size=64, show_progress_bar=False, cache=cache, **CONTENDERS[name]
    )


def prepare() -> dict[str, Any]:
    """First fit (exports if not on disk yet) and a load from disk, per ONNX contender."""
    from embkit._core.models import clear_models

    out = {}
    for name in CONTENDERS:
        start = time.perf_counter()
        make_encoder(name).set_params(show_progress_bar=None).fit(["x"])
        first = time.perf_counter() - start
        clear_models()
        start = time.perf_counter()
        make_encoder(name).fit(["x"])
        load = time.perf_counter() - start
        out[name] = {"first_fit_s": first, "load_s": load}
        print(f"{name}: first fit {first:.1f}s, fit after clear_models {load:.2f}s", flush=True)
    return out


def cosine(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.sum(A * B, axis=1) / (np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1))


def latency(texts: list[str], repeats: int) -> list[dict[str, Any]]:
    """Median over repeats of the mean seconds per call, for 1 text and for 32 texts."""
    singles, batches = texts[:20], [texts[20 + 32 * i : 52 + 32 * i] for i in range(5)]
    encoders = {name: make_encoder(name).fit(["x"]) for name in CONTENDERS}
    for enc in encoders.values():
        enc.transform(batches[0])  # warm-up
    per_call: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeats):
        for name, enc in encoders.items():
            for size, calls in ((1, [[t] for t in singles]), (32, batches)):
                start = time.perf_counter()
                for call in calls:
                    enc.transform(call)
                per_call.setdefault((name, size), []).append(
                    (time.perf_counter() - start) / len(calls)
                )
    rows = []
    for name in CONTENDERS:
        one = statistics.median(per_call[(name, 1)])
        b32 = statistics.median(per_call[(name, 32)])
        ref1 = statistics.median(per_call[("torch fp32", 1)])
        ref32 = statistics.median(per_call[("torch fp32", 32)])
        rows.append(
            {
                "contender": name,
                "1 text ms": f"{one * 1e3:.1f}",
                "x torch (1)": f"{ref1 / one:.2f}",
                "32 texts ms": f"{b32 * 1e3:.1f}",
                "x torch (32)": f"{ref32 / b32:.2f}",
            }
        )
    return rows


def serving_switch(train, y_train, test) -> dict[str, str]:
    """Fit a pipeline on torch vectors, switch its encoder's backend, count equal predictions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        make_encoder("torch fp32", VECTOR_CACHE), LogisticRegression(max_iter=3000)
    )
    reference = pipe.fit(train, y_train).predict(test)
    counts = {}
    for name in ("onnx fp32", "onnx int8"):
        pipe.set_params(
            sentenceencoder__backend="onnx",
            **{"sentenceencoder__quantize": CONTENDERS[name].get("quantize")},
        )
        same = int(np.sum(pipe.predict(test) == reference))
        counts[name] = f"{same}/{len(test)}"
    return counts


def run_dataset(
    name: str, repeats: int, limit: int | None, bulk: int, parts: list[str]
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    train, y_train = (part[:limit] for part in read_split(name, "train"))
    test, y_test = (part[:limit] for part in read_split(name, "test"))
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    print(f"\n{name}: {len(train):,} train / {len(test):,} test texts", flush=True)

    timings = Timings()
    for enc in CONTENDERS:  # warm-up
        make_encoder(enc).fit_transform(test[:64])
    for repeat in range(repeats if "timing" in parts else 0):
        for enc in CONTENDERS:
            with timings.measure(enc):
                make_encoder(enc).fit_transform(test[:bulk])
        print(
            f"  repeat {repeat + 1}: "
            + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in timings.seconds.items()),
            flush=True,
        )

    vectors = {}
    for enc in CONTENDERS if "accuracy" in parts else ():
        start = time.perf_counter()
        encoder = make_encoder(enc, VECTOR_CACHE)
        vectors[enc] = (encoder.fit_transform(train), encoder.transform(test))
        print(f"  {enc}: vectors in {time.perf_counter() - start:.1f}s", flush=True)
    switch = serving_switch(train, y_train, test) if vectors else {}
    print(f"  serving switch, test predictions equal to torch's: {switch}", flush=True)

    majority = max(set(y_test.tolist()), key=y_test.tolist().count)
    rows = [
        {
            "data": name,
            "contender": "most frequent class",
            "texts/s (median, min-max)": "-",
            "x torch (wall)": "-",
            "x torch (CPU)": "-",
            "cosine to torch (mean, min)": "-",
            "LR test accuracy": f"{np.mean(y_test == majority):.3f}",
            "vs torch (points)": "-",
        }
    ]
    details: dict[str, Any] = {"serving_switch": switch}
    for enc in CONTENDERS:
        row = {"data": name, "contender": enc, **dict.fromkeys(list(rows[0])[2:], "-")}
        if timings.seconds:
            ref = statistics.median(timings.seconds["torch fp32"])
            ref_cpu = statistics.median(timings.cpu_seconds["torch fp32"])
            runs, cpu = timings.seconds[enc], timings.cpu_seconds[enc]
            n = len(test[:bulk])
            row["texts/s (median, min-max)"] = (
                f"{n / statistics.median(runs):,.0f} ({n / max(runs):,.0f}-{n / min(runs):,.0f})"
            )
            row["x torch (wall)"] = f"{ref / statistics.median(runs):.2f}"
            row["x torch (CPU)"] = f"{ref_cpu / statistics.median(cpu):.2f}"
            details[enc] = {"encode_seconds": runs, "encode_cpu_seconds": cpu}
        if vectors:
            Z_train, Z_test = vectors[enc]
            acc = LogisticRegression(max_iter=3000).fit(Z_train, y_train).score(Z_test, y_test)
            cos = cosine(Z_test, vectors["torch fp32"][1])
            ref_acc = details.get("torch fp32", {}).get("lr_accuracy", acc)
            row["cosine to torch (mean, min)"] = f"{cos.mean():.5f}, {cos.min():.4f}"
            row["LR test accuracy"] = f"{acc:.4f}"
            row["vs torch (points)"] = f"{100 * (acc - ref_acc):+.2f}"
            details.setdefault(enc, {}).update(
                lr_accuracy=float(acc), cosine_mean=float(cos.mean()), cosine_min=float(cos.min())
            )
        rows.append(row)
    return {"rows": rows, "details": details, "test_texts": test}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["emotion", "sst2"])
    parser.add_argument("--bulk", type=int, default=1000, help="test texts timed for throughput")
    parser.add_argument("--limit", type=int, default=None, help="first N texts (smoke runs)")
    parser.add_argument("--warm-only", action="store_true", help="fill the vector cache, no timing")
    parser.add_argument(
        "--parts", nargs="+", default=["timing", "accuracy"], choices=["timing", "accuracy"]
    )
    args = parser.parse_args(argv)
    without_memory_cache()  # every repeat runs the model
    if args.warm_only:
        for name in args.datasets:
            for split in ("train", "test"):
                texts = read_split(name, split)[0][: args.limit]
                for enc in CONTENDERS:
                    start = time.perf_counter()
                    make_encoder(enc, VECTOR_CACHE).fit_transform(texts)
                    print(f"{name} {split} {enc}: {time.perf_counter() - start:.0f}s", flush=True)
        return {}
    env = environment(["onnxruntime", "onnx"])
    print(", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    export = prepare()
    rows, details, first_test = [], {}, None
    for name in args.datasets:
        result = run_dataset(name, args.repeats, args.limit, args.bulk, args.parts)
        rows += result["rows"]
        details[name] = result["details"]
        first_test = first_test or result["test_texts"]
    lat = latency(first_test, args.repeats) if "timing" in args.parts else []
    print("\n" + markdown_table(rows) + ("\n\n" + markdown_table(lat) if lat else ""))
    result = {
        "environment": env,
        "export": export,
        "rows": rows,
        "latency": lat,
        "details": details,
    }
    if args.limit is None:  # a partial run keeps the full run's file
        parts = [] if len(args.parts) == 2 else args.parts
        print(f"saved {save_json(result, '_'.join(['onnx', *parts]))}")
    return result


if __name__ == "__main__":
    main()
