"""Tuner benchmark: embkit's tuners side by side with embetter 0.9.1's on the same embeddings.

For each data set (emotion, sst2) the MiniLM embeddings are computed once (through
``SentenceEncoder`` with an on-disk cache), then, in each repeat and one after the other:

* plain embeddings + ``LogisticRegression`` (and the most-frequent baseline);
* embetter ``FeedForwardTuner(hidden_dim=200, n_epochs=20)`` vs embkit's at equal work
  (same hidden size and epochs, no early stopping, the hidden layer alone as output), and
  embkit's with its own defaults;
* embetter ``ContrastiveTuner(hidden_dim=300, epochs=20)`` vs embkit's at equal work, and
  embkit's with its own defaults.

Fit time is measured on the training split; accuracy is that of
``LogisticRegression(max_iter=3000)`` trained on the tuned training embeddings and scored
on the test split. Seeds 0, 1, 2 (embetter has no ``random_state``: its runs differ by
chance). Needs embetter in the benchmark environment (``make bench-venv``)::

    flock /tmp/embkit-bench.lock .bench-venv/bin/python -m benchmarks.bench_tuners
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from benchmarks._common import ROOT, environment, markdown_table, read_split, save_json


def embed(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MiniLM embeddings of the train and test splits, through the embkit cache."""
    from embkit import SentenceEncoder

    encoder = SentenceEncoder(cache=ROOT / ".cache" / "bench-embeddings", device="cpu")
    out = []
    for split in ("train", "test"):
        texts, labels = read_split(name, split)
        out += [encoder.fit_transform(texts), np.asarray(labels)]
    return tuple(out)


def lr_accuracy(Z_train, y_train, Z_test, y_test) -> float:
    from sklearn.linear_model import LogisticRegression

    return float(LogisticRegression(max_iter=3000).fit(Z_train, y_train).score(Z_test, y_test))


# embetter trains every epoch on every row and returns the hidden layer alone; so do these
EQUAL_WORK = {"early_stopping": False, "output": "tuned"}
FF_EQUAL = 'embkit FeedForwardTuner(200, n_epochs=20, early_stopping=False, output="tuned")'
CT_EQUAL = 'embkit ContrastiveTuner(300, n_epochs=20, early_stopping=False, output="tuned")'


def contenders(seed: int) -> dict[str, Any]:
    """name -> a fresh estimator (None for the plain-embeddings row)."""
    from embetter.finetune import ContrastiveTuner as EmbetterContrastive
    from embetter.finetune import FeedForwardTuner as EmbetterFeedForward

    from embkit import ContrastiveTuner, FeedForwardTuner

    return {
        "plain embeddings": None,
        "embetter FeedForwardTuner(200, n_epochs=20)": EmbetterFeedForward(
            hidden_dim=200, n_epochs=20
        ),
        FF_EQUAL: FeedForwardTuner(200, n_epochs=20, **EQUAL_WORK, random_state=seed, device="cpu"),
        "embkit FeedForwardTuner() defaults": FeedForwardTuner(random_state=seed, device="cpu"),
        "embetter ContrastiveTuner(300, epochs=20)": EmbetterContrastive(hidden_dim=300, epochs=20),
        CT_EQUAL: ContrastiveTuner(300, n_epochs=20, **EQUAL_WORK, random_state=seed, device="cpu"),
        "embkit ContrastiveTuner() defaults": ContrastiveTuner(random_state=seed, device="cpu"),
    }


BASELINE_OF = {
    FF_EQUAL: "embetter FeedForwardTuner(200, n_epochs=20)",
    "embkit FeedForwardTuner() defaults": "embetter FeedForwardTuner(200, n_epochs=20)",
    CT_EQUAL: "embetter ContrastiveTuner(300, epochs=20)",
    "embkit ContrastiveTuner() defaults": "embetter ContrastiveTuner(300, epochs=20)",
}


def run_dataset(
    name: str, repeats: int, only: list[str], details: dict[str, Any]
) -> list[dict[str, Any]]:
    import torch

    X_train, y_train, X_test, y_test = embed(name)
    majority = max(set(y_test.tolist()), key=y_test.tolist().count)
    print(f"\n{name}: {len(X_train):,} train / {len(X_test):,} test, dim {X_train.shape[1]}")
    seconds: dict[str, list[float]] = {}
    accuracy: dict[str, list[float]] = {}
    spaces = {"MiniLM embeddings": X_test}
    for seed in range(repeats):
        torch.manual_seed(seed)  # embetter draws from the global RNG; embkit never reads it
        for label, est in contenders(seed).items():
            if only and label != "plain embeddings" and not any(w in label for w in only):
                continue
            fit_s = 0.0
            if est is None:
                Z_train, Z_test = X_train, X_test
            else:
                start = time.perf_counter()
                est.fit(X_train, y_train)
                fit_s = time.perf_counter() - start
                Z_train, Z_test = est.transform(X_train), est.transform(X_test)
            acc = lr_accuracy(Z_train, y_train, Z_test, y_test)
            if seed == 0 and label.endswith("defaults"):
                spaces[label.removesuffix(" defaults").removeprefix("embkit ")] = Z_test
            seconds.setdefault(label, []).append(0.0 if est is None else fit_s)
            accuracy.setdefault(label, []).append(acc)
            print(
                f"  seed {seed} {label}: fit {fit_s:.2f}s, LR test accuracy {acc:.3f}", flush=True
            )
    details[name] = {
        label: {"fit_s": seconds[label], "accuracy": accuracy[label]} for label in seconds
    }
    picture = draw_spaces(name, spaces, y_test)
    print(f"  picture of the test embeddings: {picture}")
    rows = [
        {
            "data": name,
            "contender": "most frequent class",
            "fit s (median, min-max)": "-",
            "speed-up vs embetter": "-",
            "LR test accuracy (median, min-max)": f"{np.mean(y_test == majority):.3f}",
        }
    ]
    for label, runs in seconds.items():
        median = statistics.median(runs)
        base = BASELINE_OF.get(label)
        speedup = f"{statistics.median(seconds[base]) / median:.1f}x" if base in seconds else "-"
        accs = accuracy[label]
        rows.append(
            {
                "data": name,
                "contender": label,
                "fit s (median, min-max)": (
                    "-" if median == 0 else f"{median:.2f} ({min(runs):.2f}-{max(runs):.2f})"
                ),
                "speed-up vs embetter": speedup,
                "LR test accuracy (median, min-max)": (
                    f"{statistics.median(accs):.3f} ({min(accs):.3f}-{max(accs):.3f})"
                ),
            }
        )
    return rows


def draw_spaces(name: str, spaces: dict[str, np.ndarray], y: np.ndarray):
    """PCA of the test embeddings before and after each tuner, saved under docs/img."""
    from embkit.cli.plotting import plot_embeddings

    fig = plot_embeddings(
        spaces, y, suptitle=f"{name} test split: PCA before and after tuning (seed 0)"
    )
    path = ROOT / "docs" / "img" / f"tuners_pca_{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path.relative_to(ROOT)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["emotion", "sst2"])
    parser.add_argument("--only", nargs="*", default=[], help="contenders whose name has a word")
    args = parser.parse_args(argv)
    env = environment(["embetter"])
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}  # every seed's fit seconds and accuracy, per data set
    for name in args.datasets:
        rows += run_dataset(name, args.repeats, args.only, details)
    table = markdown_table(rows)
    print("\n" + table)
    result = {"environment": env, "rows": rows, "details": details}
    print(f"saved {save_json(result, 'tuners')}")
    return result


if __name__ == "__main__":
    main()
