"""Peak traced memory and time of ``EmbeddingCache.get_many`` reading every row it holds.

Random float32 vectors go into a temporary cache; each contender then reads them all back,
interleaved, ``--repeats`` times: the peak traced by ``tracemalloc`` above the level before
the call, and the wall time of separate untraced calls (median and min-max). ``--before``
names another ``cache.py`` (e.g. ``git show ef2b9cd:embkit/io/cache.py > before.py``) to
compare with; the outputs must be equal.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import tempfile
import time
import tracemalloc

import numpy as np

from benchmarks._common import environment, markdown_table, save_json


def _module(path: str) -> object:
    spec = importlib.util.spec_from_file_location("cache_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="a cache.py to compare with")
    args = parser.parse_args(argv)
    from embkit.io import cache as after

    modules = {"before": _module(args.before)} if args.before else {}
    modules["after"] = after
    texts = [f"text {i}" for i in range(args.rows)]
    vectors = np.random.default_rng(0).standard_normal((args.rows, args.dim), dtype=np.float32)
    peaks: dict[str, list[float]] = {name: [] for name in modules}
    times: dict[str, list[float]] = {name: [] for name in modules}
    with tempfile.TemporaryDirectory() as folder:
        after.EmbeddingCache(folder).set_many("ns", texts, vectors)
        caches = {name: module.EmbeddingCache(folder) for name, module in modules.items()}
        outputs = {name: cache.get_many("ns", texts, args.dim) for name, cache in caches.items()}
        for found, got in outputs.values():
            assert np.array_equal(found, np.arange(args.rows)) and np.array_equal(got, vectors)
        del outputs
        for _ in range(args.repeats):
            for name, cache in caches.items():
                gc.collect()
                tracemalloc.start()
                cache.get_many("ns", texts, args.dim)
                peaks[name].append(tracemalloc.get_traced_memory()[1] / 2**20)
                tracemalloc.stop()
                gc.collect()
                start = time.perf_counter()
                cache.get_many("ns", texts, args.dim)
                times[name].append(time.perf_counter() - start)
        for cache in caches.values():
            cache.close()
    size = vectors.nbytes / 2**20
    rows = [
        {
            "code": name, "rows x dim": f"{args.rows:,} x {args.dim}",
            "returned MiB": round(size, 1), "peak MiB": round(statistics.median(peaks[name]), 1),
            "peak / returned": round(statistics.median(peaks[name]) / size, 2),
            "median s": round(statistics.median(times[name]), 3),
            "min-max s": f"{min(times[name]):.3f}-{max(times[name]):.3f}",
        }
        for name in modules
    ]  # fmt: skip
    print(markdown_table(rows))
    result = {"environment": environment(), "rows": rows}
    print(f"saved {save_json(result, 'cache_read')}")
    return result


if __name__ == "__main__":
    main()
