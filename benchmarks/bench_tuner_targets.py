"""Do the tuners at their defaults beat plain logistic regression? (issue 14 targets)

On the Rotten Tomatoes demo split (``datasets/rotten_tomatoes.jsonl``, 25% stratified test
part, seed 0: the split ``make demo`` uses), sst2 and emotion, with MiniLM embeddings
computed once per data set, one after the other on the same vectors:

* plain embeddings + ``LogisticRegression(max_iter=3000)`` (the baseline, deterministic);
* ``FeedForwardTuner()`` at its defaults + the same logistic regression;
* ``ContrastiveTuner()`` at its defaults + the same logistic regression;
* ``KNeighborsTuner()`` at its defaults + the same logistic regression (deterministic:
  fitted once, like the baseline);
* ``auto`` (``embkit.cli.auto.auto_search``: 3-fold CV on the training split among lr,
  kneighbors, feedforward with output "concat" or "residual" and contrastive, keeping
  kneighbors unless another beats it by two standard errors of the fold gaps, then
  refitted).

Test accuracy and macro F1, mean and standard deviation over seeds 0..N-1, and the
targets of issue 14 checked in the same run. The seed spread says nothing about the test
set's own sampling noise, so each pipeline's gain over plain LR also gets a paired
bootstrap standard error over the test rows (the same resampled rows for both models,
the gain averaged over seeds)::

    flock /tmp/embkit-bench.lock python -m benchmarks.bench_tuner_targets --seeds 5
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from benchmarks._common import ROOT, environment, markdown_table, read_split, save_json


def load(name: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """Train and test texts and labels; ``rt`` is the demo's own split."""
    if name != "rt":
        train, test = read_split(name, "train"), read_split(name, "test")
        return train[0], train[1], test[0], test[1]
    from sklearn.model_selection import train_test_split

    rows = [
        json.loads(line)
        for line in (ROOT / "datasets" / "rotten_tomatoes.jsonl").read_text().splitlines()
    ]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    a, b, c, d = train_test_split(texts, labels, test_size=0.25, random_state=0, stratify=labels)
    return a, c, b, d


DETERMINISTIC = ("plain LR", "KNeighborsTuner() + LR")  # fitted at seed 0 only
TUNERS = ("FeedForwardTuner() + LR", "ContrastiveTuner() + LR", "KNeighborsTuner() + LR")


def contenders(seed: int) -> dict[str, Any]:
    """name -> a fresh estimator taking embeddings (None: plain LR)."""
    from embkit import ContrastiveTuner, FeedForwardTuner, KNeighborsTuner
    from embkit.cli.auto import auto_search

    return {
        "plain LR": None,
        "FeedForwardTuner() + LR": FeedForwardTuner(random_state=seed, device="cpu"),
        "ContrastiveTuner() + LR": ContrastiveTuner(random_state=seed, device="cpu"),
        "KNeighborsTuner() + LR": KNeighborsTuner(),
        "auto": auto_search(random_state=seed),
    }


def scores(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(y, pred)), float(f1_score(y, pred, average="macro"))


def paired_bootstrap_se(
    preds: list[np.ndarray], base: np.ndarray, y: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Standard error of (mean over seeds of a pipeline's score) - (plain LR's score).

    The test rows are resampled with replacement ``n_boot`` times; both models are scored
    on the same resampled rows, so only the noise of the test sample is measured.
    Returns the standard errors of the accuracy and the macro F1 gains.
    """
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    labels = np.unique(y)
    acc_gain, f1_gain = [], []
    for _ in range(n_boot):
        rows = rng.integers(0, len(y), len(y))
        yb = y[rows]
        base_f1 = f1_score(yb, base[rows], labels=labels, average="macro", zero_division=0)
        acc_gain.append(
            np.mean([np.mean(p[rows] == yb) for p in preds]) - np.mean(base[rows] == yb)
        )
        f1_gain.append(
            np.mean([
                f1_score(yb, p[rows], labels=labels, average="macro", zero_division=0)
                for p in preds
            ])
            - base_f1
        )  # fmt: skip
    return float(np.std(acc_gain)), float(np.std(f1_gain))


def run_dataset(name: str, seeds: int, auto_seeds: int, cache: str) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from embkit import SentenceEncoder
    from embkit.cli.auto import describe_choice

    train_texts, y_train, test_texts, y_test = load(name)
    encoder = SentenceEncoder(cache=cache, device="cpu", show_progress_bar=False)
    X_train, X_test = encoder.fit_transform(train_texts), encoder.fit_transform(test_texts)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    print(f"\n{name}: {len(X_train):,} train / {len(X_test):,} test", flush=True)
    runs: dict[str, list[tuple[float, float, float]]] = {}
    preds: dict[str, list[np.ndarray]] = {}
    chosen: list[str] = []
    for seed in range(seeds):
        for label, est in contenders(seed).items():
            if (label in DETERMINISTIC and seed > 0) or (label == "auto" and seed >= auto_seeds):
                continue
            if est is None:
                model = LogisticRegression(max_iter=3000)
            elif label == "auto":
                model = est
            else:
                model = make_pipeline(est, LogisticRegression(max_iter=3000))
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_s = time.perf_counter() - start
            preds.setdefault(label, []).append(np.asarray(model.predict(X_test)))
            acc, f1 = scores(preds[label][-1], y_test)
            runs.setdefault(label, []).append((acc, f1, fit_s))
            extra = ""
            if label == "auto":
                chosen.append(describe_choice(model))
                extra = f", chose {chosen[-1]}"
            print(
                f"  seed {seed} {label}: accuracy {acc:.3f}, macro F1 {f1:.3f}, "
                f"fit {fit_s:.1f}s{extra}",
                flush=True,
            )
    summary = {}
    for label, values in runs.items():
        arr = np.array(values)
        summary[label] = {
            "runs": len(values),
            "accuracy": float(arr[:, 0].mean()),
            "accuracy_std": float(arr[:, 0].std()),
            "macro_f1": float(arr[:, 1].mean()),
            "macro_f1_std": float(arr[:, 1].std()),
            "fit_s": float(np.median(arr[:, 2])),
        }
        if label != "plain LR":
            se_acc, se_f1 = paired_bootstrap_se(preds[label], preds["plain LR"][0], y_test)
            summary[label]["gain_se_accuracy"] = se_acc
            summary[label]["gain_se_macro_f1"] = se_f1
    majority = max(set(y_test.tolist()), key=y_test.tolist().count)
    return {
        "data": name,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "most_frequent_accuracy": float(np.mean(y_test == majority)),
        "summary": summary,
        "auto_choices": chosen,
    }


def targets(result: dict[str, Any]) -> list[str]:
    """The issue's targets, checked on this data set (one line each)."""
    s = result["summary"]
    base = s["plain LR"]
    lines = []
    for tuner in TUNERS:
        for metric in ("accuracy", "macro_f1"):
            gap = s[tuner][metric] - base[metric]
            verdict = "ok" if gap >= -0.002 else "BELOW"
            plus = " (+1 point)" if gap >= 0.01 else ""
            se = s[tuner].get(f"gain_se_{metric}", float("nan"))
            lines.append(
                f"{tuner} {metric} {gap:+.3f} (test-sample SE {se:.3f}) vs plain LR: "
                f"{verdict}{plus}"
            )
    if "auto" in s:
        singles = {k: v for k, v in s.items() if k != "auto"}
        best = max(singles, key=lambda k: singles[k]["macro_f1"])
        floor = singles[best]["macro_f1"] - singles[best]["macro_f1_std"]
        ok = s["auto"]["macro_f1"] >= floor
        lines.append(
            f"auto macro F1 {s['auto']['macro_f1']:.3f} vs best single ({best}) "
            f"{singles[best]['macro_f1']:.3f} - spread {singles[best]['macro_f1_std']:.3f}: "
            + ("ok" if ok else "BELOW")
        )
    return lines


def table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        rows.append({
            "data": r["data"], "pipeline": "most frequent class", "runs": "-",
            "accuracy": f"{r['most_frequent_accuracy']:.3f}", "macro F1": "-",
            "gain vs LR acc / F1 (± test SE)": "-", "fit s": "-",
        })  # fmt: skip
        for label, v in r["summary"].items():
            rows.append({
                "data": r["data"], "pipeline": label, "runs": v["runs"],
                "accuracy": f"{v['accuracy']:.3f} ± {v['accuracy_std']:.3f}",
                "macro F1": f"{v['macro_f1']:.3f} ± {v['macro_f1_std']:.3f}",
                "gain vs LR acc / F1 (± test SE)": (
                    "-" if label == "plain LR" else
                    f"{v['accuracy'] - r['summary']['plain LR']['accuracy']:+.3f} ± "
                    f"{v['gain_se_accuracy']:.3f} / "
                    f"{v['macro_f1'] - r['summary']['plain LR']['macro_f1']:+.3f} ± "
                    f"{v['gain_se_macro_f1']:.3f}"
                ),
                "fit s": f"{v['fit_s']:.1f}",
            })  # fmt: skip
    return markdown_table(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--auto-seeds", type=int, default=None, help="default: --seeds")
    parser.add_argument("--datasets", nargs="+", default=["rt", "sst2", "emotion"])
    parser.add_argument("--cache", default=str(ROOT / ".cache" / "bench-embeddings"))
    args = parser.parse_args(argv)
    auto_seeds = args.seeds if args.auto_seeds is None else args.auto_seeds
    env = environment()
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    results = []
    for name in args.datasets:
        results.append(run_dataset(name, args.seeds, auto_seeds, args.cache))
        for line in targets(results[-1]):
            print(f"  target: {line}")
        save_json(
            {"environment": env, "results": results}, "tuner_targets_" + "_".join(args.datasets)
        )
    print("\n" + table(results))
    return {"environment": env, "results": results}


if __name__ == "__main__":
    main()
