"""How far other classifiers on the same MiniLM vectors get past plain LR (issue 14).

The tuner targets ask for a point over plain ``LogisticRegression()`` on Rotten Tomatoes
and sst2. This measures, on the VALIDATION splits of ``explore_tuner_designs`` (never a
test split), what classifiers that are not a tuner + LR reach there: LR with less
regularisation, an RBF support-vector machine (``SVC``, scikit-learn's default ``gamma``),
an ``MLPClassifier`` with early stopping, beside ``KNeighborsTuner()`` and
``FeedForwardTuner()`` + LR. It chooses nothing.

    python -m benchmarks.explore_headroom \
        --datasets rt sst2 embetter-new-dataset embetter-data-quality

Prints accuracy and macro F1 (mean over the validation splits) and the gain over plain LR;
writes ``benchmarks/results/explore_headroom.json``. One torch thread.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from benchmarks._common import environment, save_json
from benchmarks.explore_tuner_designs import CACHE, _auto_candidate, folds


def models() -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    return {
        "LogisticRegression()": lambda: LogisticRegression(max_iter=3000),
        "LogisticRegression(C=3)": lambda: LogisticRegression(C=3, max_iter=3000),
        "LogisticRegression(C=10)": lambda: LogisticRegression(C=10, max_iter=3000),
        "SVC()": lambda: SVC(),
        "SVC(C=3)": lambda: SVC(C=3),
        "SVC(C=10)": lambda: SVC(C=10),
        "MLPClassifier(512, early_stopping)": lambda: MLPClassifier(
            (512,), early_stopping=True, max_iter=300, random_state=0
        ),
        "KNeighborsTuner() + LR": lambda: _auto_candidate("kn", 0),
        "FeedForwardTuner() + LR": lambda: _auto_candidate("ff512", 0),
    }


def main(argv: list[str] | None = None) -> dict:
    import torch
    from sklearn.metrics import accuracy_score, f1_score

    from embkit import SentenceEncoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["rt", "sst2"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    encoder = SentenceEncoder(cache=CACHE, device="cpu", show_progress_bar=False)
    out: dict[str, dict[str, list[list[float]]]] = {}
    for name in args.datasets:
        scores: dict[str, list[list[float]]] = {}
        for X, y, Xv, yv in folds(name, encoder):
            for label, make in models().items():
                pred = make().fit(X, y).predict(Xv)
                f1 = f1_score(yv, pred, average="macro")
                scores.setdefault(label, []).append([accuracy_score(yv, pred), f1])
        base = np.array(scores["LogisticRegression()"])
        for label, rows in scores.items():
            s = np.array(rows)
            gain = 100 * (s - base).mean(axis=0)
            print(f"{name} | {label} | {s[:, 0].mean():.3f} | {s[:, 1].mean():.3f} | "
                  f"{gain[0]:+.2f} / {gain[1]:+.2f}", flush=True)  # fmt: skip
        out[name] = scores
    result = {"environment": environment(), "args": vars(args), "scores": out}
    save_json(result, "explore_headroom")
    return result


if __name__ == "__main__":
    main()
