"""How much the draw of the Rotten Tomatoes test texts decides a tuner's gain (issue 14).

``make demo`` and the tuner-target benchmark score every pipeline on one stratified 25%
test part (seed 0) of ``datasets/rotten_tomatoes.jsonl``: 600 texts, where one text is
0.17 points. This script draws the same 75/25 split with other seeds (1..N) and measures
each tuner's gain over plain logistic regression on each, tuner seeds 0..S-1, so the demo
split can be placed among them. It selects nothing: no default is chosen from it, and as
the splits mix the demo's test texts into training, none may be.

    python -m benchmarks.explore_rt_resplits --splits 20 --seeds 3

Prints one line per split and, per tuner, the mean and spread of the gain over the other
splits, how often it is at least -0.002 (the issue's "not below plain LR" bound), and where
the demo split falls among them. Writes ``benchmarks/results/explore_rt_resplits.json``.
One torch thread; ``EMBKIT_EXPLORE_CACHE`` names the embedding cache.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks._common import ROOT, environment, save_json
from benchmarks.explore_tuner_designs import CACHE, _auto_candidate

TUNERS = ("kn", "ff512", "ct")  # KNeighborsTuner, FeedForwardTuner, ContrastiveTuner defaults
NAMES = {"kn": "KNeighborsTuner", "ff512": "FeedForwardTuner", "ct": "ContrastiveTuner"}
BOUND = -0.002 - 1e-9  # -0.002 itself passes (a mean over seeds of 1/600 steps is inexact)


def gains(X: np.ndarray, y: np.ndarray, split: int, seeds: int) -> dict[str, list[float]]:
    """Accuracy and macro F1 gain over plain LR of every tuner, mean over tuner seeds."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    a, b, c, d = train_test_split(X, y, test_size=0.25, random_state=split, stratify=y)

    def score(cand: str, seed: int) -> np.ndarray:
        pred = _auto_candidate(cand, seed).fit(a, c).predict(b)
        return np.array([accuracy_score(d, pred), f1_score(d, pred, average="macro")])

    base = score("lr", 0)
    runs = {t: 1 if t == "kn" else seeds for t in TUNERS}  # KNeighborsTuner is deterministic
    return {
        t: (np.mean([score(t, s) for s in range(runs[t])], axis=0) - base).tolist() for t in TUNERS
    }


def summarise(per_split: list[dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    out = {}
    for t in TUNERS:
        demo, others = np.array(per_split[0][t]), np.array([g[t] for g in per_split[1:]])
        out[t] = {
            "demo_accuracy": demo[0], "demo_macro_f1": demo[1],
            "mean_accuracy": others[:, 0].mean(), "sd_accuracy": others[:, 0].std(ddof=1),
            "mean_macro_f1": others[:, 1].mean(), "sd_macro_f1": others[:, 1].std(ddof=1),
            "share_not_below": float((others >= BOUND).all(axis=1).mean()),
            "share_below_demo_accuracy": float((others[:, 0] < demo[0]).mean()),
        }  # fmt: skip
        s = out[t]
        print(
            f"{NAMES[t]}: other splits {100 * s['mean_accuracy']:+.2f} ± "
            f"{100 * s['sd_accuracy']:.2f} accuracy, {100 * s['mean_macro_f1']:+.2f} ± "
            f"{100 * s['sd_macro_f1']:.2f} macro F1 points; not below LR by more than 0.002 "
            f"on both on {100 * s['share_not_below']:.0f}% of them; demo split "
            f"{100 * s['demo_accuracy']:+.2f} / {100 * s['demo_macro_f1']:+.2f}, above "
            f"{100 * s['share_below_demo_accuracy']:.0f}% of the others in accuracy"
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    import torch

    from embkit import SentenceEncoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=20, help="other splits (seeds 1..N)")
    parser.add_argument("--seeds", type=int, default=3, help="tuner seeds per split")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [json.loads(x) for x in open(ROOT / "datasets" / "rotten_tomatoes.jsonl")]
    encoder = SentenceEncoder(cache=CACHE, device="cpu", show_progress_bar=False)
    X = encoder.fit_transform([r["text"] for r in rows])
    y = np.asarray([r["label"] for r in rows])
    per_split = []
    for split in range(args.splits + 1):  # split 0 is the demo's
        per_split.append(gains(X, y, split, args.seeds))
        shown = {t: f"{100 * g[0]:+.2f} / {100 * g[1]:+.2f}" for t, g in per_split[-1].items()}
        print(f"split {split}{' (demo)' if split == 0 else ''}: {shown}", flush=True)
    summary = summarise(per_split)
    result = {"environment": environment(), "args": vars(args), "per_split": per_split,
              "summary": summary}  # fmt: skip
    save_json(result, "explore_rt_resplits")
    return result


if __name__ == "__main__":
    main()
