"""Would a tuner gain by falling back to the raw vector when its own hold-out says so?

Scored on VALIDATION splits only (the splits of ``benchmarks.explore_tuner_designs``). For
each split and seed, ``FeedForwardTuner()`` (defaults) is fitted on the training part; its
early-stopping hold-out (the rows it scored its passes on) is read back by wrapping
``holdout_indices``. Then ``LogisticRegression`` on ``[X, tuned]`` and on ``X`` alone are
fitted on the tuner's training rows and scored on its hold-out, by log-loss and by macro F1;
the "gate" keeps the tuned output when it wins there and the raw vector otherwise. The
validation score of each choice is compared with plain logistic regression's.

    python -m benchmarks.explore_holdout_fallback --datasets rt sst2 --seeds 0 1 2

Prints one line per run and the mean gains (accuracy / macro F1 points) and writes
``benchmarks/results/explore_holdout_fallback.json``. One torch thread is enough.
``EMBKIT_EXPLORE_CACHE`` names the embedding cache, as for ``explore_tuner_designs``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from benchmarks._common import environment, save_json
from benchmarks.explore_tuner_designs import CACHE, folds


def _lr() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=3000)


def run(names: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    import embkit._training.torch_base as torch_base
    from embkit import FeedForwardTuner, SentenceEncoder

    held: dict[str, np.ndarray] = {}
    real = torch_base.holdout_indices

    def spy(*args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        held["train"], held["val"] = real(*args, **kwargs)
        return held["train"], held["val"]

    torch_base.holdout_indices = spy
    encoder = SentenceEncoder(cache=CACHE)
    runs = []
    for name in names:
        for fold, (X, y, Xv, yv) in enumerate(folds(name, encoder)):
            plain = _lr().fit(X, y).predict(Xv)
            for seed in seeds:
                tuner = FeedForwardTuner(random_state=seed).fit(X, y)
                tr, va = held["train"], held["val"]
                Z = tuner.transform(X)
                tuned = _lr().fit(Z, y).predict(tuner.transform(Xv))
                raw_model, tuned_model = _lr().fit(X[tr], y[tr]), _lr().fit(Z[tr], y[tr])
                run = {"dataset": name, "fold": fold, "seed": seed, "holdout_rows": len(va)}
                for key, pred in (("plain", plain), ("tuned", tuned)):
                    run[key] = [accuracy_score(yv, pred), f1_score(yv, pred, average="macro")]
                run["holdout_logloss"] = [
                    log_loss(y[va], m.predict_proba(A[va]), labels=m.classes_)
                    for m, A in ((raw_model, X), (tuned_model, Z))
                ]
                run["holdout_f1"] = [
                    f1_score(y[va], m.predict(A[va]), average="macro")
                    for m, A in ((raw_model, X), (tuned_model, Z))
                ]
                print(run, flush=True)
                runs.append(run)
    torch_base.holdout_indices = real
    return runs


def summarise(runs: list[dict[str, Any]]) -> None:
    """Mean gain over plain LR of the tuner, and of the two gates, per data set."""
    for name in dict.fromkeys(r["dataset"] for r in runs):
        mine = [r for r in runs if r["dataset"] == name]
        plain = np.mean([r["plain"] for r in mine], axis=0)
        choices = {
            "tuner": [r["tuned"] for r in mine],
            "gate by log-loss": [
                r["plain"] if r["holdout_logloss"][0] <= r["holdout_logloss"][1] else r["tuned"]
                for r in mine
            ],
            "gate by macro F1": [
                r["plain"] if r["holdout_f1"][0] >= r["holdout_f1"][1] else r["tuned"] for r in mine
            ],
        }
        for label, scores in choices.items():
            gain = 100 * (np.mean(scores, axis=0) - plain)
            print(f"{name:22s} {label:17s} gain {gain[0]:+.1f} / {gain[1]:+.1f} ({len(mine)} runs)")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["rt", "sst2", "emotion"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--name", default="explore_holdout_fallback")
    args = parser.parse_args(argv)
    runs = run(args.datasets, args.seeds)
    save_json({"args": vars(args), "environment": environment(), "runs": runs}, args.name)
    summarise(runs)
    return runs


if __name__ == "__main__":
    main()
