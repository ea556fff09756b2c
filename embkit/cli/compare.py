"""The engine of ``embkit compare``: the texts encoded once, named pipelines fitted on those
vectors and scored on the test split beside a most-frequent baseline."""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embkit.cli.significance import macro_f1_lead_se

__all__ = ["ComparisonResult", "compare_pipelines", "verdict", "write_report"]

BASELINE = "most-frequent baseline"


@dataclass
class ComparisonResult:
    """What :func:`compare_pipelines` measured.

    Attributes
    ----------
    rows : list of dict
        One row per pipeline (baseline first): ``pipeline``, ``n_runs``, ``accuracy``,
        ``macro_f1`` (means over seeds) and their ``_std``, ``fit_time_s`` (mean, without
        encoding), ``predict_time_s``, ``chosen`` (what ``auto`` picked).
    best : str or None
        The pipeline with the highest mean macro F1 (not the baseline).
    verdict : str
        One sentence from :func:`verdict`.
    pipelines, predictions, probabilities : dict
        The first seed's fitted pipelines, test predictions and ``predict_proba`` (or None).
    tuned_test : dict
        The first seed's test embeddings after each tuning pipeline's tuner steps.
    X_test : ndarray
        Raw test embeddings.
    encode_time_s : float
        Seconds spent encoding train and test texts (once, for every pipeline).
    """

    test_texts: list[str]
    y_test: np.ndarray
    X_test: np.ndarray
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: str | None = None
    verdict: str = ""
    pipelines: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    probabilities: dict[str, np.ndarray | None] = field(default_factory=dict)
    tuned_test: dict[str, np.ndarray] = field(default_factory=dict)
    encode_time_s: float = 0.0

    def table(self) -> str:
        """The results as a Markdown table."""
        header = ["pipeline", "runs", "accuracy", "macro F1", "fit time (s)"]
        body = [
            [
                r["pipeline"] + (f" -> {r['chosen']}" if r.get("chosen") else ""),
                r.get("n_runs", 1),
                _mean_std(r["accuracy"], r.get("accuracy_std", 0.0)),
                _mean_std(r["macro_f1"], r.get("macro_f1_std", 0.0)),
                f"{r['fit_time_s']:.2f}",
            ]
            for r in self.rows
        ]
        return markdown_table(header, body)

    def highest_loss(self, name: str | None = None, n: int = 20) -> list[dict[str, Any]]:
        """Test examples with the highest ``-log p(true label)`` under ``name`` (default: best).

        Without ``predict_proba``: the misclassified examples, with ``loss=None``.
        """
        name = self.best if name is None else name
        if name is None:
            return []
        pred = self.predictions[name]
        proba = self.probabilities.get(name)
        rows = []
        if proba is not None:
            classes = list(self.pipelines[name].classes_)
            column = {c: j for j, c in enumerate(classes)}
            for i, (text, label) in enumerate(zip(self.test_texts, self.y_test, strict=True)):
                j = column.get(label)
                p = float(proba[i, j]) if j is not None else 0.0
                rows.append({
                    "text": text, "label": label, "predicted": pred[i],
                    "p_label": p, "loss": -math.log(max(p, 1e-12)),
                })  # fmt: skip
            rows.sort(key=lambda r: -r["loss"])
        else:
            rows = [
                {"text": text, "label": label, "predicted": p, "p_label": None, "loss": None}
                for text, label, p in zip(self.test_texts, self.y_test, pred, strict=True)
                if label != p
            ]
        return rows[:n]


def compare_pipelines(
    train_texts: Sequence[str],
    y_train: Sequence[Any],
    test_texts: Sequence[str],
    y_test: Sequence[Any],
    *,
    names: Sequence[str],
    model: str = "all-MiniLM-L6-v2",
    cache: Any = None,
    random_state: int | None = 0,
    seeds: int = 3,
    verbose: bool = False,
    log: Callable[[str], None] | None = None,
) -> ComparisonResult:
    """Encode once, fit each named pipeline (once per seed), score them on the test split.

    Parameters
    ----------
    train_texts, y_train, test_texts, y_test : sequences
        The two splits.
    names : sequence of str
        Registered pipeline names (see :func:`embkit.cli.registry.available_pipelines`).
    model : str, default="all-MiniLM-L6-v2"
        The encoder's model.
    cache : None, str or path-like
        Embedding cache directory; a second run on the same texts skips the model.
    random_state : int or None, default=0
        Seed of the first run of every pipeline; run ``k`` uses ``random_state + k``.
    seeds : int, default=3
        Runs of every stochastic pipeline (deterministic ones, such as ``lr``, run once).
    verbose : bool, default=False
        Progress bars while encoding and training.
    log : callable or None
        Called with one line of progress news per step (e.g. ``print``).

    Returns
    -------
    ComparisonResult

    Examples
    --------
    >>> from embkit.cli.compare import compare_pipelines
    >>> texts = ["good", "great", "fine film", "bad", "awful", "dull film"] * 4
    >>> labels = ["pos"] * 3 + ["neg"] * 3
    >>> result = compare_pipelines(texts[:18], labels * 3, texts[18:], labels,
    ...                            names=["lr"])
    >>> [(row["pipeline"], row["n_runs"]) for row in result.rows]
    [('most-frequent baseline', 1), ('lr', 1)]
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import Pipeline

    from embkit._core.validation import check_positive_int
    from embkit.cli.auto import describe_choice
    from embkit.cli.registry import get_pipeline_spec, make_named_pipeline
    from embkit.encoders.sentence import SentenceEncoder

    say = log or (lambda message: None)
    specs = [get_pipeline_spec(name) for name in names]  # fail early on a bad name
    seeds = check_positive_int(seeds, "seeds")
    y_train = np.asarray(y_train)
    y_test = np.asarray(y_test)

    encoder = SentenceEncoder(model, cache=cache, show_progress_bar=None if verbose else False)
    start = time.perf_counter()
    X_all = encoder.fit_transform(list(train_texts) + list(test_texts))
    encode_time = time.perf_counter() - start
    X_train, X_test = X_all[: len(train_texts)], X_all[len(train_texts) :]
    say(
        f"encoded {len(X_all)} texts with {model} in {encode_time:.1f} s "
        f"(train {len(X_train)}, test {len(X_test)}, dim {X_all.shape[1]})"
    )
    result = ComparisonResult(list(test_texts), y_test, X_test, encode_time_s=encode_time)

    def run(name: str, fitted: Any, X_eval: Any, fit_time: float, tuned: bool = False) -> dict:
        start = time.perf_counter()
        # the steps before the classifier (most of the cost) run once for every use below
        features, last = X_eval, fitted
        if isinstance(fitted, Pipeline) and len(fitted.steps) > 1:
            features, last = fitted[:-1].transform(X_eval), fitted[-1]
        pred = np.asarray(last.predict(features))
        predict_time = time.perf_counter() - start
        if name not in result.pipelines:  # the first seed's model is the one kept
            proba = last.predict_proba(features) if hasattr(last, "predict_proba") else None
            result.pipelines[name] = fitted
            result.predictions[name] = pred
            result.probabilities[name] = None if proba is None else np.asarray(proba)
            if tuned and last is not fitted:
                result.tuned_test[name] = np.asarray(features)
        return {
            "accuracy": float(accuracy_score(y_test, pred)),
            "macro_f1": float(f1_score(y_test, pred, average="macro", zero_division=0)),
            "fit_time_s": fit_time,
            "predict_time_s": predict_time,
        }

    baseline = DummyClassifier(strategy="most_frequent").fit(X_train, y_train)
    result.rows.append(_summary(BASELINE, [run(BASELINE, baseline, X_test, 0.0)], ""))

    base_seed = 0 if random_state is None else int(random_state)
    for spec in specs:
        X_fit, X_eval = (list(train_texts), list(test_texts)) if spec.on_text else (X_train, X_test)
        n_runs = seeds if spec.stochastic else 1
        several = f" ({n_runs} seeds)" if n_runs > 1 else ""
        say(f"fitting {spec.name}: {spec.description}{several}")
        runs, chosen = [], []
        for k in range(n_runs):
            pipe = make_named_pipeline(
                spec.name, model=model, cache=cache, random_state=base_seed + k,
                verbose=verbose, embeddings=not spec.on_text,
            )  # fmt: skip
            start = time.perf_counter()
            pipe.fit(X_fit, y_train)
            runs.append(run(spec.name, pipe, X_eval, time.perf_counter() - start, spec.tunes))
            if hasattr(pipe[-1], "best_params_"):
                chosen.append(describe_choice(pipe[-1]).split(" (")[0])
        row = _summary(spec.name, runs, _count(chosen))
        result.rows.append(row)
        say(
            f"  {spec.name}: accuracy {_mean_std(row['accuracy'], row['accuracy_std'])}, "
            f"macro F1 {_mean_std(row['macro_f1'], row['macro_f1_std'])}, "
            f"fit {row['fit_time_s']:.1f} s" + (f", chose {row['chosen']}" if chosen else "")
        )

    def lead_se(top: str, other: str) -> float:  # the first seed's predictions
        return macro_f1_lead_se(y_test, result.predictions[top], result.predictions[other])

    result.best, result.verdict = verdict(result.rows, lead_se)
    return result


def _summary(name: str, runs: list[dict[str, Any]], chosen: str) -> dict[str, Any]:
    """Mean and standard deviation of the runs of one pipeline."""
    row: dict[str, Any] = {"pipeline": name, "n_runs": len(runs), "chosen": chosen}
    for key in ("accuracy", "macro_f1", "fit_time_s", "predict_time_s"):
        values = np.array([r[key] for r in runs])
        row[key] = float(values.mean())
        if not key.endswith("_s"):  # the spread of the scores, not of the times
            row[f"{key}_std"] = float(values.std())
    return row


def _count(chosen: list[str]) -> str:
    """``["lr", "lr", "feedforward"]`` -> ``"lr x2, feedforward x1"`` (first seen first)."""
    names = list(dict.fromkeys(chosen))
    if len(names) == 1 and len(chosen) == 1:
        return names[0]
    return ", ".join(f"{n} x{chosen.count(n)}" for n in names)


def verdict(
    rows: Sequence[dict[str, Any]], lead_se: Callable[[str, str], float] | None = None
) -> tuple[str | None, str]:
    """The pipeline with the highest mean macro F1, and a sentence saying if it is clear.

    It is named best only when its lead over the first pipeline below it exceeds their seed
    spread (the larger standard deviation) and, when ``lead_se(top, other)`` is given, the
    test-sample standard error of that lead; otherwise the sentence lists those level with
    it. Pipelines tied with the top (within 1e-9) are named with it and must clear the same.

    Examples
    --------
    >>> rows = [{"pipeline": "a", "macro_f1": 0.80, "macro_f1_std": 0.01, "accuracy": 0.8},
    ...         {"pipeline": "b", "macro_f1": 0.79, "macro_f1_std": 0.02, "accuracy": 0.8}]
    >>> verdict(rows)[1]
    'No clear best by macro F1: a, b are level (a leads b by 0.010, seed spread 0.020).'
    >>> rows[0]["macro_f1_std"] = rows[1]["macro_f1_std"] = 0.0  # e.g. deterministic ones
    >>> verdict(rows, lead_se=lambda top, other: 0.004)[1]  # doctest: +NORMALIZE_WHITESPACE
    'Best by macro F1: a (leads b by 0.010, more than the seed spread 0.000 and the
    test-sample standard error 0.004).'
    >>> verdict(rows[:1])[1]
    'Best by macro F1: a.'
    >>> verdict([rows[0], {**rows[0], "pipeline": "c"}, rows[1]], lambda t, o: 0.004)[1][:47]
    'Best by macro F1: a and c, tied (they lead b by'
    >>> floor = {"pipeline": BASELINE, "macro_f1": 0.85, "accuracy": 0.9}
    >>> verdict([*rows, floor])[1]
    'No pipeline beats the most-frequent baseline by macro F1 (a 0.800 against 0.850).'
    """
    candidates = sorted(
        (r for r in rows if r["pipeline"] != BASELINE),
        key=lambda r: (r["macro_f1"], r["accuracy"]),
        reverse=True,
    )
    if not candidates:
        return None, "No pipeline was fitted."
    top = candidates[0]
    floor = next((r for r in rows if r["pipeline"] == BASELINE), None)
    if floor is not None and top["macro_f1"] <= floor["macro_f1"]:
        return top["pipeline"], (
            f"No pipeline beats the {BASELINE} by macro F1 ({top['pipeline']} "
            f"{top['macro_f1']:.3f} against {floor['macro_f1']:.3f})."
        )
    if len(candidates) == 1:
        return top["pipeline"], f"Best by macro F1: {top['pipeline']}."
    computed: dict[tuple[str, str], float] = {}

    def limit(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
        """The seed spread (the larger std) and test-sample standard error of a over b."""
        pair = (a["pipeline"], b["pipeline"])
        if lead_se is not None and a is not b and pair not in computed:
            computed[pair] = lead_se(*pair)  # each pair bootstrapped once
        spread = max(a.get("macro_f1_std", 0.0), b.get("macro_f1_std", 0.0))
        return spread, computed.get(pair, 0.0)

    # within 1e-9 of the top is a tie (auto that chose kneighbors: a mean of equal seeds)
    tied = [r for r in candidates if top["macro_f1"] - r["macro_f1"] <= 1e-9]
    if len(tied) == len(candidates):
        names = ", ".join(r["pipeline"] for r in tied)
        return top["pipeline"], f"No clear best by macro F1: {names} tie at {top['macro_f1']:.3f}."
    runner = candidates[len(tied)]  # the lead is over the first pipeline below the tie
    lead = top["macro_f1"] - runner["macro_f1"]
    spread, se = (max(v) for v in zip(*(limit(t, runner) for t in tied), strict=True))
    limits = f"seed spread {spread:.3f}"
    limits += "" if lead_se is None else f", test-sample standard error {se:.3f}"
    if lead > max(spread, se):
        names = [r["pipeline"] for r in tied]
        tie = f"{', '.join(names[:-1])} and {names[-1]}, tied (they lead"
        who = tie if tied[1:] else f"{names[0]} (leads"
        return top["pipeline"], (
            f"Best by macro F1: {who} {runner['pipeline']} by {lead:.3f}, "
            f"more than the {limits.replace(', test', ' and the test')})."
        )
    gap = lambda r: max(max(limit(t, r)) for t in tied)  # noqa: E731 - level with any leader
    level = [r["pipeline"] for r in candidates if top["macro_f1"] - r["macro_f1"] <= gap(r)]
    return top["pipeline"], (
        f"No clear best by macro F1: {', '.join(level)} are level "
        f"({top['pipeline']} leads {runner['pipeline']} by {lead:.3f}, {limits})."
    )


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


def write_report(
    result: ComparisonResult, out_dir: str | Path, *, pictures: bool = True, n_examples: int = 20
) -> dict[str, Path]:
    """Write the table (CSV, Markdown), pictures and highest-loss examples to ``out_dir``.

    Returns
    -------
    dict of str to Path
        What was written, by kind: ``results_csv``, ``results_md``, ``highest_loss_csv``,
        ``highest_loss_md``, and with ``pictures`` (needs matplotlib) ``embedding_pca``
        and ``confusion_matrix``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    keys = [
        "pipeline", "n_runs", "accuracy", "accuracy_std", "macro_f1", "macro_f1_std",
        "fit_time_s", "predict_time_s", "chosen",
    ]  # fmt: skip
    written["results_csv"] = _write_csv(out / "results.csv", keys, result.rows)
    note = (
        f"\nTest split: {len(result.y_test)} texts. Encoding (shared by every pipeline, "
        f"not in the fit times): {result.encode_time_s:.1f} s. {result.verdict}\n"
    )
    (out / "results.md").write_text(result.table() + "\n" + note, encoding="utf-8")
    written["results_md"] = out / "results.md"

    losses = result.highest_loss(n=n_examples)
    loss_keys = ["loss", "p_label", "label", "predicted", "text"]
    written["highest_loss_csv"] = _write_csv(out / "highest_loss.csv", loss_keys, losses)
    body = [
        [
            "" if r["loss"] is None else f"{r['loss']:.2f}",
            "" if r["p_label"] is None else f"{r['p_label']:.3f}",
            str(r["label"]),
            str(r["predicted"]),
            _shorten(r["text"], 200),
        ]
        for r in losses
    ]
    (out / "highest_loss.md").write_text(
        f"Test examples with the highest loss under `{result.best}`\n\n"
        + markdown_table(["loss", "p(label)", "label", "predicted", "text"], body)
        + "\n",
        encoding="utf-8",
    )
    written["highest_loss_md"] = out / "highest_loss.md"

    if pictures:
        from embkit.cli.plotting import plot_confusion_matrix, plot_embeddings, sorted_labels

        panels = {"raw embeddings": result.X_test}
        panels.update({f"after {name}": X for name, X in result.tuned_test.items()})
        fig = plot_embeddings(panels, result.y_test, suptitle="Test embeddings (PCA)")
        fig.savefig(out / "embedding_pca.png", dpi=110)
        written["embedding_pca"] = out / "embedding_pca.png"
        if result.best is not None:
            labels = sorted_labels(
                [*result.y_test.tolist(), *result.predictions[result.best].tolist()]
            )
            ax = plot_confusion_matrix(
                result.y_test, result.predictions[result.best], labels=labels,
                title=f"Confusion matrix: {result.best} (test)",
            )  # fmt: skip
            ax.figure.savefig(out / "confusion_matrix.png", dpi=110)
            written["confusion_matrix"] = out / "confusion_matrix.png"
    return written


def markdown_table(header: Sequence[str], body: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; cells are escaped for ``|`` and new lines.

    Examples
    --------
    >>> print(markdown_table(["a", "b"], [[1, "x|y"]]))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in body]
    return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _write_csv(path: Path, keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(keys), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _plain(row.get(k)) for k in keys})
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return round(value, 6)
    return value
