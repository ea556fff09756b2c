"""``auto``'s selection rules scored on out-of-fold predictions, VALIDATION splits only.

``explore_tuner_designs --auto`` stored, for every candidate of ``auto``, its macro F1 on
3 folds of each training part and its score on the validation part. Three fold scores
give a paired standard error with two degrees of freedom, and folds of two thirds of the
rows favour the candidates that learn fastest. This script keeps every candidate's
out-of-fold predictions on 3 and on 5 folds (the same folds for all candidates, the first
3-fold repeat the one ``--auto`` used), so rules can compare candidates on all training
rows at once, with a paired bootstrap over the rows:

* ``folds3`` / ``folds5``: ``auto``'s rule on per-fold scores (keep KNeighborsTuner unless
  the best mean beats it by 2 standard errors of the fold gaps).
* ``oof3 m2`` / ``oof5 m2``: the same rule on the pooled out-of-fold macro F1, the
  standard error from 1,000 paired bootstrap resamples of the training rows; ``m1`` and
  ``m1.5`` ask for 1 and 1.5 standard errors instead of 2, ``m0`` takes the best pooled
  score with no margin.

Every candidate is also fitted on the whole training part and scored on the validation
part, in the same run (the trained tuners' fits are not bit-identical from one machine or
process to another, so scores stored by an earlier run would not belong to these folds).
Writes ``benchmarks/results/explore_auto_oof_<datasets>.json``, with the label codes and
out-of-fold predictions as digit strings (fewer than 10 classes).

    python -m benchmarks.explore_auto_oof --datasets rt sst2 --seeds 0 1
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from benchmarks._common import environment, save_json
from benchmarks.explore_tuner_designs import CACHE, _auto_candidate, folds

CANDIDATES = ("lr", "kn", "ff512", "ffres", "ct")  # auto's grid, simplest first
DEFAULT = "kn"
MARGIN_SE = 2.0
MARGINS = (0.0, 1.0, 1.5, 2.0)  # the out-of-fold rule's margins, in standard errors


def oof_predictions(est: Any, X: np.ndarray, y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Out-of-fold label codes on ``k`` stratified folds (auto's folds for ``k``)."""
    from sklearn.base import clone
    from sklearn.model_selection import RepeatedStratifiedKFold

    codes = np.unique(y, return_inverse=True)[1]
    out = np.empty(len(y), dtype=np.int64)
    classes = np.unique(y)
    splits = RepeatedStratifiedKFold(n_splits=k, n_repeats=1, random_state=seed)
    for tr, te in splits.split(X, codes):
        pred = clone(est).fit(X[tr], y[tr]).predict(X[te])
        out[te] = np.searchsorted(classes, pred)
    return out


def fold_ids(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import RepeatedStratifiedKFold

    ids = np.empty(len(y), dtype=np.int64)
    splits = RepeatedStratifiedKFold(n_splits=k, n_repeats=1, random_state=seed)
    for i, (_, te) in enumerate(splits.split(np.zeros(len(y)), y)):
        ids[te] = i
    return ids


def macro_f1(codes: np.ndarray, pred: np.ndarray, weights: np.ndarray, n_classes: int):
    """Macro F1 under row weights (one row of ``weights`` per resample), vectorised.

    Every one of the ``n_classes`` counts, as ``f1_score(labels=range(n_classes))`` does: a
    resample without a class in its labels and predictions scores it 0 (with classes of
    60 rows or more, as here, that does not happen).
    """
    f1 = np.zeros(weights.shape[0])
    for c in range(n_classes):
        t, p = codes == c, pred == c
        tp = weights @ (t & p).astype(np.float32)
        fp = weights @ (~t & p).astype(np.float32)
        fn = weights @ (t & ~p).astype(np.float32)
        denom = 2 * tp + fp + fn
        f1 += np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-12), 0.0)
    return f1 / n_classes


def bootstrap_gap(codes, a, b, n_classes, n_boot=1000, seed=0) -> tuple[float, float]:
    """Macro F1 of ``a`` minus that of ``b`` and its paired bootstrap standard error."""
    rng = np.random.default_rng(seed)
    n = len(codes)
    ones = np.ones((1, n), dtype=np.float32)
    gap = float(macro_f1(codes, a, ones, n_classes)[0] - macro_f1(codes, b, ones, n_classes)[0])
    gaps = []
    for start in range(0, n_boot, 100):
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=min(100, n_boot - start))
        w = w.astype(np.float32)
        gaps.append(macro_f1(codes, a, w, n_classes) - macro_f1(codes, b, w, n_classes))
    return gap, float(np.concatenate(gaps).std(ddof=1))


def pick_folds(fold_scores: dict[str, np.ndarray]) -> str:
    best = max(CANDIDATES, key=lambda c: fold_scores[c].mean())
    if best == DEFAULT:
        return best
    gaps = fold_scores[best] - fold_scores[DEFAULT]
    return best if gaps.mean() > MARGIN_SE * gaps.std(ddof=1) / np.sqrt(len(gaps)) else DEFAULT


def picks(codes: np.ndarray, oof: dict[int, dict[str, np.ndarray]], seed: int) -> dict:
    from sklearn.metrics import f1_score

    n_classes = int(codes.max()) + 1
    out, detail = {}, {}
    for k, preds in oof.items():
        ids = fold_ids(codes, k, seed)
        per_fold = {
            c: np.array([f1_score(codes[ids == i], p[ids == i], average="macro") for i in range(k)])
            for c, p in preds.items()
        }
        out[f"folds{k}"] = pick_folds(per_fold)
        pooled = {c: f1_score(codes, p, average="macro") for c, p in preds.items()}
        best = max(CANDIDATES, key=lambda c: pooled[c])
        gap, se = 0.0, 0.0
        if best != DEFAULT:
            gap, se = bootstrap_gap(codes, preds[best], preds[DEFAULT], n_classes, seed=seed)
        for m in MARGINS:
            out[f"oof{k} m{m:g}"] = best if best != DEFAULT and gap > m * se else DEFAULT
        detail[k] = (best, gap, se)
    return out, {str(k): v for k, v in detail.items()}


def run(names: list[str], seeds: list[int]) -> list:
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, f1_score

    from embkit import SentenceEncoder

    encoder = SentenceEncoder(cache=CACHE, device="cpu", show_progress_bar=False)
    runs = []
    for name in names:
        for fold, (X, y, Xv, yv) in enumerate(folds(name, encoder)):
            codes = np.unique(y, return_inverse=True)[1]
            if codes.max() > 9:
                raise ValueError(f"{name}: the digit strings hold fewer than 10 classes")
            for seed in seeds:
                val = {}
                oof: dict[int, dict[str, np.ndarray]] = {3: {}, 5: {}}
                for cand in CANDIDATES:
                    est = _auto_candidate(cand, seed)
                    for k in oof:
                        oof[k][cand] = oof_predictions(est, X, y, k, seed)
                    pred = clone(est).fit(X, y).predict(Xv)
                    val[cand] = (accuracy_score(yv, pred), f1_score(yv, pred, average="macro"))
                chosen, detail = picks(codes, oof, seed)
                run_ = {"data": name, "fold": fold, "seed": seed, "val": val,
                        "picks": chosen, "detail": detail,
                        "labels": "".join(map(str, codes)),
                        "oof": {str(k): {c: "".join(map(str, p)) for c, p in v.items()}
                                for k, v in oof.items()}}  # fmt: skip
                runs.append(run_)
                print(name, fold, seed, chosen, detail, flush=True)
    return runs


def summarise(runs: list) -> None:
    rules = [*(f"={c}" for c in CANDIDATES[1:]), *runs[0]["picks"]]
    per_set: dict[str, list[float]] = {rule: [] for rule in rules}
    print("\ndata | rule | val macro F1 gain over lr | val accuracy gain | picks")
    for data in dict.fromkeys(r["data"] for r in runs):
        rs = [r for r in runs if r["data"] == data]
        for rule in rules:
            pick = [rule[1:] if rule.startswith("=") else r["picks"][rule] for r in rs]
            f1 = np.mean(
                [r["val"][p][1] - r["val"]["lr"][1] for r, p in zip(rs, pick, strict=True)]
            )
            acc = np.mean(
                [r["val"][p][0] - r["val"]["lr"][0] for r, p in zip(rs, pick, strict=True)]
            )
            per_set[rule].append(f1)
            print(f"{data} | {rule} | {100 * f1:+.2f} | {100 * acc:+.2f} | {' '.join(pick)}")
    print("\nrule | mean macro F1 gain over the sets | worst set")
    for rule, f1s in per_set.items():
        print(f"{rule} | {100 * np.mean(f1s):+.2f} | {100 * min(f1s):+.2f}")


def main(argv: list[str] | None = None) -> list:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["rt", "sst2", "emotion"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = run(args.datasets, args.seeds)
    summarise(runs)
    save_json(
        {"environment": environment(), "args": vars(args), "runs": runs},
        "explore_auto_oof_" + "_".join(args.datasets),
    )
    return runs


if __name__ == "__main__":
    main()
