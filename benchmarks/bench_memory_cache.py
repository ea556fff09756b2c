"""A GridSearchCV sweep over SentenceEncoder() + LogisticRegression with the in-memory
embedding cache (the default without ``cache=``) and with it off, in one run.

3 values of ``C`` x 3 folds (+ the refit) on the first 400 bundled Rotten Tomatoes texts;
the two arms alternate ``--repeats`` times. Prints wall seconds and the texts that reached
the model (counted by wrapping ``SentenceTransformer.encode``).

    python -m benchmarks.bench_memory_cache --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from benchmarks._common import ROOT, environment, markdown_table, save_json


def _sweep(texts: list[str], labels: list[str]) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from embkit import SentenceEncoder

    pipe = make_pipeline(SentenceEncoder(), LogisticRegression(max_iter=3000))
    start = time.perf_counter()
    GridSearchCV(pipe, {"logisticregression__C": [0.3, 1, 3]}, cv=3).fit(texts, labels)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--texts", type=int, default=400)
    args = parser.parse_args(argv)

    from sentence_transformers import SentenceTransformer

    from embkit.io.memory_cache import memory_cache

    path = ROOT / "datasets" / "rotten_tomatoes.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [r["text"] for r in rows[: args.texts]]
    labels = [r["label"] for r in rows[: args.texts]]
    counter = [0]
    original = SentenceTransformer.encode

    def counting(self: Any, inputs: Any, *a: Any, **k: Any) -> Any:
        counter[0] += len(inputs)
        return original(self, inputs, *a, **k)

    SentenceTransformer.encode = counting
    runs = []
    for repeat in range(args.repeats):
        arms = ("memory cache", "off") if repeat % 2 == 0 else ("off", "memory cache")
        for arm in arms:
            os.environ["EMBKIT_MEMORY_CACHE_MB"] = "0" if arm == "off" else "256"
            cache = memory_cache()
            if cache is not None:
                cache.clear()  # every repeat starts cold
            counter[0] = 0
            seconds = _sweep(texts, labels)
            runs.append({"arm": arm, "seconds": seconds, "texts through the model": counter[0]})
            print(runs[-1], flush=True)
    table = []
    for arm in ("memory cache", "off"):
        mine = [r for r in runs if r["arm"] == arm]
        table.append({
            "encoder cache": arm,
            "seconds (each run)": ", ".join(f"{r['seconds']:.1f}" for r in mine),
            "texts through the model": mine[0]["texts through the model"],
        })  # fmt: skip
    print(markdown_table(table))
    result = {"environment": environment(), "load": os.getloadavg(), "runs": runs}
    print("wrote", save_json(result, "memory_cache"))
    return result


if __name__ == "__main__":
    main()
