"""Encoder benchmark: raw sentence-transformers vs SentenceEncoder cold and with a warm cache.

On the 16,000 emotion training texts, one after the other in each repeat (so machine noise
hits every contender alike; the order of the model runs rotates from repeat to repeat):

* ``raw SentenceTransformer.encode`` - the baseline, model already loaded;
* ``SentenceEncoder cold`` - ``fit_transform`` without a cache (target: >= 0.95x raw);
* ``SentenceEncoder cold, filling cache`` - the same, writing an empty cache;
* ``SentenceEncoder warm cache`` - ``fit_transform`` of a new encoder on the filled cache
  (target: >= 50x raw).

Same model, batch size 64 and device (CPU) for all; progress bars off. Run from the
project root (needs ../shared/data)::

    flock /tmp/embkit-bench.lock .venv/bin/python -m benchmarks.bench_encoders
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from benchmarks._common import (
    Timings,
    environment,
    markdown_table,
    read_split,
    save_json,
    without_memory_cache,
)

RAW = "raw SentenceTransformer.encode"
COLD = "SentenceEncoder cold"
FILL = "SentenceEncoder cold, filling cache"
WARM = "SentenceEncoder warm cache"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use the first N texts only")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    without_memory_cache()  # every repeat runs the model

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from embkit import SentenceEncoder
    from embkit._core.models import resolve_model

    texts, _ = read_split("emotion", "train")
    texts = texts[: args.limit]
    env = environment()
    print(f"{len(texts):,} texts ({len(set(texts)):,} distinct); batch size {args.batch_size}")
    print(", ".join(f"{k} {v}" for k, v in env.items()))

    raw_model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    settings = {"device": "cpu", "batch_size": args.batch_size, "show_progress_bar": False}
    raw_model.encode(texts[:64], batch_size=args.batch_size)  # warm-up: first-call overheads
    SentenceEncoder(**settings).fit_transform(texts[:64])  # loads the shared model

    def run_raw(cache_dir: Path) -> np.ndarray:
        return raw_model.encode(texts, batch_size=args.batch_size)

    def run_cold(cache_dir: Path) -> np.ndarray:
        return SentenceEncoder(**settings).fit_transform(texts)

    def run_fill(cache_dir: Path) -> np.ndarray:
        return SentenceEncoder(**settings, cache=cache_dir).fit_transform(texts)

    def run_warm(cache_dir: Path) -> np.ndarray:
        return SentenceEncoder(**settings, cache=cache_dir).fit_transform(texts)

    model_runs = [(RAW, run_raw), (COLD, run_cold), (FILL, run_fill)]
    timings = Timings()
    folder = Path(tempfile.mkdtemp(prefix="embkit-bench-cache-"))
    try:
        for repeat in range(args.repeats):
            cache_dir = folder / f"run{repeat}"
            # rotate the order of the model runs so slow drifts favour none of them
            shift = repeat % len(model_runs)
            out = {}
            for name, run in model_runs[shift:] + model_runs[:shift]:
                with timings.measure(name):
                    out[name] = run(cache_dir)
            with timings.measure(WARM):  # needs the cache filled above
                out[WARM] = run_warm(cache_dir)
            np.testing.assert_allclose(out[COLD], out[RAW], atol=1e-5)
            np.testing.assert_array_equal(out[FILL], out[COLD])
            np.testing.assert_array_equal(out[WARM], out[COLD])  # exactly what was stored
            print(
                f"repeat {repeat + 1}: "
                + ", ".join(f"{name} {runs[-1]:.2f}s" for name, runs in timings.seconds.items()),
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows = timings.rows(reference=RAW, n_items=len(texts))
    print()
    print(markdown_table(rows))
    result = {
        "environment": env,
        "n_texts": len(texts),
        "seconds": timings.seconds,
        "cpu_seconds": timings.cpu_seconds,
        "rows": rows,
    }
    print(f"\nsaved {save_json(result, 'encoders')}")
    return result


if __name__ == "__main__":
    main()
