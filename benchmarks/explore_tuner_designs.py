"""Tuner designs and ``auto`` selection rules scored on VALIDATION splits only (issue 14).

Every design is a tuner (or none) followed by ``LogisticRegression(max_iter=3000)``, fitted
on a training part and scored on a validation part; the test splits are never read.

* sst2 and emotion: their own train / validation files.
* ``rt``: the demo's training part (``datasets/rotten_tomatoes.jsonl``, 25% stratified
  test part with seed 0 left out, as ``make demo`` does), split again three times
  (stratified 75/25, seeds 1, 2, 3): three validation folds of 450 texts.
* ``embetter-new-dataset`` / ``embetter-data-quality``: the records annotated for that
  label, one binary task each, split three times (stratified 70/30, seeds 1, 2, 3).

Designs (``--designs``; see ``DESIGNS``): ``ff`` / ``ct`` / ``kn`` are the feed-forward,
contrastive and nearest-neighbour tuners at their defaults (``output="concat"``);
``ff-residual`` is ``FeedForwardTuner(output="residual")``; ``-cv5`` cross-fits the tuner
(5 stratified folds: the training rows get the output of a tuner that did not see them,
as scikit-learn's ``TargetEncoder.fit_transform`` does; the validation rows get the tuner
fitted on all rows); ``ffproba-cv5`` stacks the feed-forward tuner's cross-fitted class
log-probabilities beside the input; the other suffixes change one parameter. ``--auto``
instead scores the selection rules of ``auto`` (the lr / kneighbors / feedforward /
contrastive grid) by the validation score of the candidate each rule picks (``--reuse``
an earlier ``--auto`` result to score only the candidates it lacks).

    python -m benchmarks.explore_tuner_designs --datasets rt sst2 --designs lr ff ff-cv5
    python -m benchmarks.explore_tuner_designs --auto --datasets rt sst2 --seeds 0 1

Prints one line per run and a summary (mean over folds and seeds of the gain over plain LR)
and writes ``benchmarks/results/explore_tuner_designs*.json``. One torch thread.
``EMBKIT_EXPLORE_CACHE`` names the embedding cache (default ``.cache/bench-embeddings``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks._common import DATA, ROOT, environment, read_split, save_json

CACHE = os.environ.get("EMBKIT_EXPLORE_CACHE", str(ROOT / ".cache" / "bench-embeddings"))

DESIGNS: dict[str, dict[str, Any]] = {
    "lr": {"kind": "lr"},
    "ff": {"kind": "ff"},  # the defaults (output="concat")
    "ct": {"kind": "ct"},  # the defaults (output="concat")
    "ff-residual": {"kind": "ff", "output": "residual"},
    "ff-cv5": {"kind": "ff", "output": "concat", "cv": 5},
    "ff-cv3": {"kind": "ff", "output": "concat", "cv": 3},
    "ct-cv5": {"kind": "ct", "cv": 5},
    "ff-tuned-cv5": {"kind": "ff", "cv": 5, "output": "tuned"},
    "ffproba-cv5": {"kind": "ffproba", "cv": 5},
    "ff-scale0.5": {"kind": "ff", "output": "concat", "scale": 0.5},
    "ff-scale2": {"kind": "ff", "output": "concat", "scale": 2.0},
    "ff-dropout0.2": {"kind": "ff", "output": "concat", "dropout": 0.2},
    "ff-dropout0.7": {"kind": "ff", "output": "concat", "dropout": 0.7},
    "ff-wd1e-2": {"kind": "ff", "output": "concat", "weight_decay": 1e-2},
    "ff-h256": {"kind": "ff", "output": "concat", "hidden_dim": 256},
    "ff-h1024": {"kind": "ff", "output": "concat", "hidden_dim": 1024},
    "ff-lr1e-3": {"kind": "ff", "output": "concat", "learning_rate": 1e-3},
    "ff-gelu": {"kind": "ff", "output": "concat", "activation": "gelu"},
    "ff-bs128": {"kind": "ff", "output": "concat", "batch_size": 128},
    "ff-nic10": {"kind": "ff", "output": "concat", "n_iter_no_change": 10},
    "ff-vf0.2": {"kind": "ff", "output": "concat", "validation_fraction": 0.2},
    "ff-vf0.3": {"kind": "ff", "output": "concat", "validation_fraction": 0.3},
    "ct-vf0.2": {"kind": "ct", "validation_fraction": 0.2},
    "ff-residual-h128": {"kind": "ff", "output": "residual", "hidden_dim": 128},
    # KNeighborsTuner: the input + scaled log label shares of the nearest training rows
    "kn": {"kind": "kn"},  # the defaults
    **{f"kn-k{k}": {"kind": "kn", "n_neighbors": k} for k in (10, 20, 50, 100)},
    **{f"kn-s{s}": {"kind": "kn", "scale": s} for s in (0.05, 0.1, 0.2, 0.3)},
    **{f"kn-t{t}": {"kind": "kn", "temperature": t} for t in (0.05, 0.1, 0.2)},
    "kn-tnone": {"kind": "kn", "temperature": None},
}


def folds(name: str, encoder: Any) -> list[tuple[np.ndarray, ...]]:
    """(X_train, y_train, X_val, y_val) tuples of one data set; never its test split."""
    from sklearn.model_selection import train_test_split

    if name in ("sst2", "emotion"):
        tr, va = read_split(name, "train"), read_split(name, "validation")
        return [
            (encoder.fit_transform(tr[0]), np.asarray(tr[1]))
            + (encoder.fit_transform(va[0]), np.asarray(va[1]))
        ]
    if name == "rt":
        rows = [json.loads(x) for x in open(ROOT / "datasets" / "rotten_tomatoes.jsonl")]
        texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
        texts, _, labels, _ = train_test_split(
            texts, labels, test_size=0.25, random_state=0, stratify=labels
        )  # the demo's training part; its test part is left alone
        frac = 0.25
    else:
        label = name.removeprefix("embetter-")
        rows = [json.loads(x) for x in open(DATA / "embetter" / f"{label}.jsonl")]
        rows = [r for r in rows if label in r["cats"]]
        texts, labels = [r["text"] for r in rows], [str(r["cats"][label]) for r in rows]
        frac = 0.3
    X, y = encoder.fit_transform(texts), np.asarray(labels)
    out = []
    for seed in (1, 2, 3):
        a, b, c, d = train_test_split(X, y, test_size=frac, random_state=seed, stratify=y)
        out.append((a, c, b, d))
    return out


def _tuner(kind: str, seed: int, **params: Any) -> Any:
    from embkit import ContrastiveTuner, FeedForwardTuner

    cls = FeedForwardTuner if kind in ("ff", "ffproba") else ContrastiveTuner
    return cls(random_state=seed, device="cpu", **params)


def features(spec: dict[str, Any], X: np.ndarray, y: np.ndarray, Xv: np.ndarray, seed: int):
    """The training and validation features a design gives the logistic regression."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    spec = dict(spec)
    kind, cv, scale = spec.pop("kind"), spec.pop("cv", None), spec.pop("scale", None)
    if kind == "lr":
        return X, Xv
    if kind == "kn":  # deterministic: the seed changes nothing
        from embkit import KNeighborsTuner

        kn = KNeighborsTuner(**spec, **({} if scale is None else {"scale": scale}))
        return kn.fit_transform(X, y), kn.transform(Xv)
    if kind == "ffproba":
        spec["output"] = "tuned"
    tuner = _tuner(kind, seed, **spec)

    def out(model: Any, A: np.ndarray) -> np.ndarray:
        if kind == "ffproba":
            return np.log(np.clip(model.predict_proba(A), 1e-4, 1.0)).astype(np.float32)
        return model.transform(A)

    full = clone(tuner).fit(X, y)
    Z, Zv = out(full, X), out(full, Xv)
    if cv:
        Z = np.empty_like(Z)
        for tr, te in StratifiedKFold(cv, shuffle=True, random_state=seed).split(X, y):
            Z[te] = out(clone(tuner).fit(X[tr], y[tr]), X[te])
    if kind == "ffproba":
        return np.hstack([X, Z]), np.hstack([Xv, Zv])
    if scale is not None:  # rescale the tuned half of a concat output
        d = X.shape[1]
        Z, Zv = Z.copy(), Zv.copy()
        Z[:, d:] *= scale
        Zv[:, d:] *= scale
    return Z, Zv


def score(Z: np.ndarray, y: np.ndarray, Zv: np.ndarray, yv: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    pred = LogisticRegression(max_iter=3000).fit(Z, y).predict(Zv)
    return float(accuracy_score(yv, pred)), float(f1_score(yv, pred, average="macro"))


def run_designs(names: list[str], designs: list[str], seeds: list[int], encoder: Any) -> list:
    runs = []
    for name in names:
        for fold, (X, y, Xv, yv) in enumerate(folds(name, encoder)):
            base = score(X, y, Xv, yv)
            for seed in seeds:
                for design in designs:
                    start = time.perf_counter()
                    Z, Zv = features(DESIGNS[design], X, y, Xv, seed)
                    fit_s = time.perf_counter() - start
                    acc, f1 = score(Z, y, Zv, yv) if design != "lr" else base
                    runs.append({
                        "data": name, "fold": fold, "seed": seed, "design": design,
                        "accuracy": acc, "macro_f1": f1, "gain_accuracy": acc - base[0],
                        "gain_macro_f1": f1 - base[1], "fit_s": fit_s,
                    })  # fmt: skip
                    print(runs[-1], flush=True)
    return runs


AUTO_CANDIDATES = ("lr", "kn", "ff128", "ff512", "ffres", "ct")  # simplest first
# grids: auto's before this study, with the residual feed-forward tuner instead of the
# 128-wide one (same cost), and that one with KNeighborsTuner added
AUTO_GRIDS = {
    "old": ("lr", "ff128", "ff512", "ct"),
    "new": ("lr", "ff512", "ffres", "ct"),
    "kn": ("lr", "kn", "ff512", "ffres", "ct"),
}


def _auto_candidate(name: str, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    lr = LogisticRegression(max_iter=3000)
    if name == "lr":
        return lr
    if name == "ct":
        return make_pipeline(_tuner("ct", seed), lr)
    if name == "kn":
        from embkit import KNeighborsTuner

        return make_pipeline(KNeighborsTuner(), lr)
    if name == "ffres":
        return make_pipeline(_tuner("ff", seed, output="residual"), lr)
    return make_pipeline(_tuner("ff", seed, hidden_dim=int(name[2:]), output="concat"), lr)


def _pick(rule: str, cv: dict[str, np.ndarray]) -> str:
    """The candidate a rule (``<grid>:<rule>``) picks from per-fold CV scores.

    The folds are 3 folds x 2 repeats; a rule ending in 3 uses the first repeat only.
    """
    grid, rule = rule.split(":")
    k = 3 if rule.endswith("3") else 6
    cands = AUTO_GRIDS[grid]
    s = {c: np.asarray(cv[c][:k]) for c in cands}
    best = max(cands, key=lambda c: s[c].mean())
    if rule.startswith("argmax"):
        return best
    if rule.startswith("keep"):  # keep kn unless the best beats it by 2 SE of the paired gaps
        gaps = s[best] - s["kn"]
        return best if gaps.mean() > 2 * gaps.std(ddof=1) / np.sqrt(k) else "kn"
    # one-standard-error rule: the simplest candidate within one SE of the best
    floor = s[best].mean() - s[best].std(ddof=1) / np.sqrt(k)
    return next(c for c in cands if s[c].mean() >= floor)


AUTO_RULES = tuple(
    f"{grid}:{rule}" for grid in AUTO_GRIDS for rule in ("argmax3", "argmax6", "1se3", "1se6")
) + ("kn:keep3", "kn:keep6")


def run_auto(names: list[str], seeds: list[int], encoder: Any, reuse: str | None = None) -> list:
    """CV and validation scores of every candidate, and each rule's pick; ``reuse`` names
    an earlier ``--auto`` result whose runs (same data, fold, seed: same CV splits) supply
    the scores of the candidates they hold."""
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

    stored = {}
    if reuse:
        for r in json.loads(open(reuse).read())["runs"]:
            stored[(r["data"], r["fold"], r["seed"])] = r
    runs = []
    for name in names:
        for fold, (X, y, Xv, yv) in enumerate(folds(name, encoder)):
            for seed in seeds:
                splits = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=seed)
                old = stored.get((name, fold, seed), {"cv": {}, "val": {}})
                cv = {c: np.asarray(v) for c, v in old["cv"].items()}
                val = {c: tuple(v) for c, v in old["val"].items()}
                for cand in (c for c in AUTO_CANDIDATES if c not in cv):
                    est = _auto_candidate(cand, seed)
                    cv[cand] = cross_val_score(est, X, y, cv=splits, scoring="f1_macro")
                    pred = clone(est).fit(X, y).predict(Xv)
                    val[cand] = (accuracy_score(yv, pred), f1_score(yv, pred, average="macro"))
                run = {"data": name, "fold": fold, "seed": seed}
                run["cv"] = {c: v.tolist() for c, v in cv.items()}
                run["val"] = val
                run["picks"] = {rule: _pick(rule, cv) for rule in AUTO_RULES}
                runs.append(run)
                print(name, fold, seed, run["picks"], flush=True)
    return runs


def summarise_designs(runs: list) -> None:
    groups = defaultdict(list)
    for r in runs:
        groups[(r["data"], r["design"])].append(r)
    print("\ndata | design | runs | accuracy | macro F1 | gain acc (sd) | gain F1 | fit s")
    for (data, design), rs in groups.items():
        ga = np.array([r["gain_accuracy"] for r in rs])
        gf = np.array([r["gain_macro_f1"] for r in rs])
        acc = np.mean([r["accuracy"] for r in rs])
        f1 = np.mean([r["macro_f1"] for r in rs])
        fit = np.median([r["fit_s"] for r in rs])
        print(
            f"{data} | {design} | {len(rs)} | {acc:.3f} | {f1:.3f} | {ga.mean():+.4f} "
            f"({ga.std():.3f}) | {gf.mean():+.4f} | {fit:.1f}"
        )


def summarise_auto(runs: list) -> None:
    print("\ndata | candidate or rule | val macro F1 gain over lr | val accuracy gain | picks")
    for data in dict.fromkeys(r["data"] for r in runs):
        rs = [r for r in runs if r["data"] == data]

        def gain(pick_of: Any, i: int, rs: list = rs) -> float:
            return float(np.mean([r["val"][pick_of(r)][i] - r["val"]["lr"][i] for r in rs]))

        for cand in AUTO_CANDIDATES[1:]:
            print(f"{data} | {cand} | {gain(lambda r, c=cand: c, 1):+.4f} | "
                  f"{gain(lambda r, c=cand: c, 0):+.4f} | -")  # fmt: skip
        best = lambda r: max(AUTO_CANDIDATES, key=lambda c: r["val"][c][1])  # noqa: E731
        print(f"{data} | oracle | {gain(best, 1):+.4f} | {gain(best, 0):+.4f} | -")
        for rule in AUTO_RULES:
            pick = lambda r, rule=rule: r["picks"][rule]  # noqa: E731
            picks = " ".join(pick(r) for r in rs)
            print(f"{data} | {rule} | {gain(pick, 1):+.4f} | {gain(pick, 0):+.4f} | {picks}")


def main(argv: list[str] | None = None) -> list:
    import torch

    from embkit import SentenceEncoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["rt", "sst2", "emotion"])
    parser.add_argument("--designs", nargs="+", default=["lr", "ff", "ct"], choices=DESIGNS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--auto", action="store_true", help="score auto's selection rules")
    parser.add_argument("--reuse", default=None, help="an earlier --auto result to build on")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    encoder = SentenceEncoder(cache=CACHE, device="cpu", show_progress_bar=False)
    if args.auto:
        runs = run_auto(args.datasets, args.seeds, encoder, args.reuse)
        summarise_auto(runs)
    else:
        runs = run_designs(args.datasets, args.designs, args.seeds, encoder)
        summarise_designs(runs)
    suffix = "_auto" if args.auto else ""
    save_json(
        {"environment": environment(), "args": vars(args), "runs": runs},
        "explore_tuner_designs" + suffix + "_" + "_".join(args.datasets),
    )
    return runs


if __name__ == "__main__":
    main()
