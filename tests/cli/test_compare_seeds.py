"""``compare`` over several seeds, its verdict, and the ``auto`` pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from embkit import KNeighborsTuner
from embkit.cli.auto import auto_search, describe_choice, keep_default_unless_beaten
from embkit.cli.compare import BASELINE, compare_pipelines, verdict
from embkit.cli.registry import get_pipeline_spec

ROOT = Path(__file__).resolve().parents[2]


def small_split(n_train=48, n_test=16):
    import json

    rows = [
        json.loads(line)
        for line in (ROOT / "datasets" / "rotten_tomatoes.jsonl").read_text().splitlines()
    ]
    rows = [r for r in rows if r["label"] in ("fresh", "rotten")][: n_train + n_test]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    return texts[:n_train], labels[:n_train], texts[n_train:], labels[n_train:]


def row(name, f1, std=0.0):
    return {"pipeline": name, "macro_f1": f1, "macro_f1_std": std, "accuracy": f1}


def test_verdict_names_a_best_only_beyond_the_seed_spread():
    rows = [row(BASELINE, 0.3), row("lr", 0.80), row("feedforward", 0.83, 0.01)]
    best, sentence = verdict(rows)
    assert best == "feedforward" and sentence.startswith("Best by macro F1: feedforward")
    rows = [row(BASELINE, 0.3), row("lr", 0.80), row("feedforward", 0.805, 0.01), row("x", 0.7)]
    best, sentence = verdict(rows)
    assert best == "feedforward"
    assert sentence.startswith("No clear best by macro F1: feedforward, lr are level")
    assert "x" not in sentence.split("level")[0]


def test_verdict_measures_the_lead_over_the_first_pipeline_below_a_tie():
    """auto that chose kneighbors ties with it: the lead is over lr, not 0 over auto."""
    rows = [row(BASELINE, 0.3), row("lr", 0.805), row("kneighbors", 0.808), row("auto", 0.808)]
    ses = {"lr": 0.007, "auto": 0.0}
    best, sentence = verdict(rows, lambda top, other: ses.get(other, 0.0))
    assert best == "kneighbors"
    assert sentence == (
        "No clear best by macro F1: kneighbors, auto, lr are level (kneighbors leads lr by "
        "0.003, seed spread 0.000, test-sample standard error 0.007)."
    )
    best, sentence = verdict(rows, lambda top, other: 0.001)
    assert sentence.startswith("Best by macro F1: kneighbors and auto, tied (they lead lr by")


def test_verdict_ties_a_mean_of_equal_seeds_with_the_single_run():
    """np.mean of three equal scores can differ in the last bit from the score itself."""
    f1 = 0.7228128374391913
    auto = float(np.mean([f1, f1, f1]))
    assert auto != f1  # the case the review found: auto above kneighbors by 1e-16
    rows = [row(BASELINE, 0.3), row("lr", 0.700), row("kneighbors", f1), row("auto", auto)]
    best, sentence = verdict(rows, lambda top, other: 0.001)
    assert sentence.startswith("Best by macro F1: auto and kneighbors, tied (they lead lr by 0.023")


def test_verdict_holds_every_tied_leader_to_its_own_spread_and_all_ties_say_so():
    rows = [row("a", 0.80), row("c", 0.80, 0.05), row("b", 0.79)]
    sentence = verdict(rows, lambda top, other: 0.001)[1]
    assert sentence.startswith("No clear best by macro F1: a, c, b are level (a leads b by 0.010")
    assert "seed spread 0.050" in sentence  # c's spread, not only a's
    assert verdict([row("a", 0.8), row("b", 0.8), row("c", 0.8)])[1] == (
        "No clear best by macro F1: a, b, c tie at 0.800."
    )
    three = [row("a", 0.8), row("b", 0.8), row("c", 0.8), row("d", 0.5)]
    assert verdict(three)[1].startswith("Best by macro F1: a, b and c, tied (they lead d by")


def test_verdict_also_needs_a_lead_beyond_the_test_sample_noise():
    rows = [row(BASELINE, 0.3), row("lr", 0.800), row("kneighbors", 0.802)]  # deterministic
    assert verdict(rows)[1].startswith("Best by macro F1: kneighbors")
    calls = []

    def lead_se(top, other):
        calls.append((top, other))
        return 0.01

    best, sentence = verdict(rows, lead_se)
    assert best == "kneighbors" and calls[0] == ("kneighbors", "lr")
    assert sentence.startswith("No clear best by macro F1: kneighbors, lr are level")
    assert "test-sample standard error 0.010" in sentence
    best, sentence = verdict(rows, lambda top, other: 0.001)
    assert sentence.startswith("Best by macro F1: kneighbors (leads lr by 0.002")


def test_macro_f1_lead_se_agrees_with_a_bootstrap_of_sklearn_scores():
    from sklearn.metrics import f1_score

    from embkit.cli.significance import macro_f1_lead_se

    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], 300)
    a = np.where(rng.random(300) < 0.8, y, rng.choice(["a", "b", "c"], 300))
    b = np.where(rng.random(300) < 0.7, y, rng.choice(["a", "b", "c"], 300))
    leads = []
    for _ in range(2000):
        i = rng.integers(0, 300, 300)
        f1 = [f1_score(y[i], p[i], labels=["a", "b", "c"], average="macro") for p in (a, b)]
        leads.append(f1[0] - f1[1])
    fast = macro_f1_lead_se(y, a, b, n_boot=2000)
    assert fast == pytest.approx(np.std(leads), rel=0.1)
    assert macro_f1_lead_se(y, a, a) == 0.0
    # paired: two models that differ on 5 rows of 300 have a small lead error (an unpaired
    # bootstrap would give about 0.025 here)
    fixed = a.copy()
    wrong = np.flatnonzero(a != y)[:5]
    fixed[wrong] = y[wrong]
    assert macro_f1_lead_se(y, fixed, a) < 0.012
    with pytest.raises(ValueError, match="same length"):
        macro_f1_lead_se(y, a[:-1], b)
    with pytest.raises(ValueError, match="1-D"):
        macro_f1_lead_se(y.reshape(3, 100), a.reshape(3, 100), b.reshape(3, 100))
    with pytest.raises(ValueError, match="n_boot"):
        macro_f1_lead_se(y, a, b, n_boot=0)


def test_macro_f1_lead_se_scores_each_model_on_its_own_labels_as_f1_score_does():
    """One model predicts a label the test rows lack: its macro F1 (as compare reports it)
    averages over one more label than the other's. The same draws replayed row by row with
    sklearn's f1_score give the same spread."""
    from sklearn.metrics import f1_score

    from embkit.cli.significance import _CHUNK, macro_f1_lead_se

    rng = np.random.default_rng(2)
    y = rng.choice(["a", "b"], 80)
    a = np.where(rng.random(80) < 0.8, y, "c")  # "c" is never true
    b = np.where(rng.random(80) < 0.7, y, rng.choice(["a", "b"], 80))
    draws = np.random.default_rng(0)
    leads = []
    for start in range(0, 120, _CHUNK):
        for counts in draws.multinomial(80, np.full(80, 1 / 80), size=min(_CHUNK, 120 - start)):
            i = np.repeat(np.arange(80), counts)
            labels = [sorted(set(y) | set(p)) for p in (a, b)]
            f1 = [
                f1_score(y[i], p[i], labels=lab, average="macro", zero_division=0)
                for p, lab in zip((a, b), labels, strict=True)
            ]
            leads.append(f1[0] - f1[1])
    assert macro_f1_lead_se(y, a, b, n_boot=120, random_state=0) == pytest.approx(
        np.std(leads), abs=1e-12
    )


def test_compare_runs_stochastic_pipelines_once_per_seed(tmp_path):
    train_texts, y_train, test_texts, y_test = small_split()
    result = compare_pipelines(
        train_texts, y_train, test_texts, y_test, names=["lr", "feedforward"],
        cache=tmp_path / "cache", seeds=2,
    )  # fmt: skip
    rows = {r["pipeline"]: r for r in result.rows}
    assert rows["lr"]["n_runs"] == 1 and rows["lr"]["macro_f1_std"] == 0.0
    assert rows["feedforward"]["n_runs"] == 2
    table = result.table()
    assert "| feedforward | 2 | " in table and " ± " in table
    assert result.verdict.startswith(
        ("Best by macro F1", "No clear best by macro F1", "No pipeline beats the most-frequent")
    )
    with pytest.raises(ValueError, match="seeds"):
        compare_pipelines(train_texts, y_train, test_texts, y_test, names=["lr"], seeds=0)


def test_auto_never_sees_the_test_split(tmp_path, monkeypatch):
    """Spy on every classifier fit inside ``auto``: no test embedding is ever among them."""
    seen = []
    original = LogisticRegression.fit

    def spy(self, X, y, *args, **kwargs):
        seen.append(np.asarray(X))
        return original(self, X, y, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", spy)
    train_texts, y_train, test_texts, y_test = small_split()
    result = compare_pipelines(
        train_texts, y_train, test_texts, y_test, names=["auto"], cache=tmp_path / "c", seeds=1
    )
    assert len(seen) >= 3 * 4 + 1  # 3 folds x 4 candidates, then the refit
    raw_test = result.X_test
    for X in seen:
        assert X.shape[0] <= len(train_texts)
        # LR sees raw embeddings (lr), a tuned space or [raw, tuned]: test rows are never there
        width = raw_test.shape[1]
        if X.shape[1] >= width:
            raw_part = X[:, :width]
            assert not (raw_part[:, None, :] == raw_test[None, :, :]).all(axis=2).any()
    assert result.rows[-1]["chosen"] in {"lr", "kneighbors", "feedforward", "contrastive"}


def test_auto_search_reports_its_choice():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], 30)
    X[y == "a", 0] += 2.0
    search = auto_search(random_state=0).fit(X, y)
    assert len(search.cv_results_["params"]) == 5  # lr, kneighbors, 2 feedforward, contrastive
    text = describe_choice(search)
    assert text.split(" ")[0] in {"lr", "kneighbors", "feedforward", "contrastive"}
    assert f"{search.cv_results_['mean_test_score'][search.best_index_]:.3f}" in text
    assert search.refit is keep_default_unless_beaten  # the candidate the rule keeps is refit
    assert search.best_index_ == keep_default_unless_beaten(search.cv_results_)


def _results(*rows):
    """cv_results_ of lr, kneighbors and a feed-forward tuner with these fold scores."""
    params = [{"tuner": "passthrough"}, {"tuner": KNeighborsTuner()}, {"tuner": "ff"}]
    folds = np.array(rows, dtype=float).T  # one row a candidate in, one row a fold out
    return {"params": params, **{f"split{i}_test_score": f for i, f in enumerate(folds)}}


def test_auto_keeps_kneighbors_unless_another_candidate_beats_it_clearly():
    kn = [0.70, 0.74, 0.72]
    # ahead on average by 0.01 but behind on one fold: not clear, the default stays
    assert keep_default_unless_beaten(_results([0.6] * 3, kn, [0.74, 0.72, 0.73])) == 1
    # ahead on every fold by about as much: chosen
    assert keep_default_unless_beaten(_results([0.6] * 3, kn, [0.72, 0.755, 0.73])) == 2
    # lr best: the same rule
    assert keep_default_unless_beaten(_results([0.80, 0.81, 0.79], kn, [0.5] * 3)) == 0
    # kneighbors best, or failed on a fold (nan), or not among the candidates
    assert keep_default_unless_beaten(_results([0.6] * 3, [0.9] * 3, [0.8] * 3)) == 1
    assert keep_default_unless_beaten(_results([0.6] * 3, [0.9, np.nan, 0.9], [0.8] * 3)) == 2
    no_kn = _results([0.6] * 3, kn, [0.8] * 3)
    no_kn["params"][1] = {"tuner": "passthrough"}
    assert keep_default_unless_beaten(no_kn) == 2


def test_auto_search_scores_candidates_on_repeated_folds():
    """3 folds by default; with n_repeats=2 every candidate gets the mean of 6 fold scores,
    and the second repeat draws different folds than the first."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.repeat(["a", "b"], 30)
    X[y == "a", 0] += 2.0
    assert auto_search(random_state=0).cv.get_n_splits() == 3
    search = auto_search(random_state=0, n_repeats=2)
    folds = [test for _, test in search.cv.split(X, y)]
    assert len(folds) == 6
    assert {frozenset(f) for f in folds[:3]} != {frozenset(f) for f in folds[3:]}
    search.fit(X, y)
    scores = np.column_stack([search.cv_results_[f"split{i}_test_score"] for i in range(6)])
    np.testing.assert_allclose(scores.mean(axis=1), search.cv_results_["mean_test_score"])
    assert auto_search(random_state=0, cv=2, n_repeats=1).cv.get_n_splits() == 2


def test_auto_search_uses_fewer_folds_on_a_small_training_split():
    """Six texts (docs/cli.md's --test-size example) leave four for training: two folds,
    not a bare scikit-learn error at the end of compare; one text per label is refused."""
    X = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    search = auto_search(random_state=0)
    assert search.cv.get_n_splits(X, ["a", "a", "b", "b"]) == 2
    assert describe_choice(search.fit(X, ["a", "a", "b", "b"]))
    with pytest.raises(ValueError, match="auto pipeline .* two training texts"):
        search.fit(X[:2], ["a", "b"])


def test_opt_in_pipelines_are_registered_but_not_compared_by_default():
    for name in ("finetune", "static", "setfit"):
        spec = get_pipeline_spec(name)
        assert spec.on_text and not spec.in_compare
    assert get_pipeline_spec("auto").in_compare
    assert not get_pipeline_spec("lr").stochastic


def test_the_test_split_goes_through_the_tuner_once_per_kept_model(tmp_path, monkeypatch):
    # predict, predict_proba and the tuned-space picture each transformed it (3 passes;
    # through a transformer body for the text pipelines)
    from embkit import KNeighborsTuner

    train_texts, y_train, test_texts, y_test = small_split()
    sizes = []
    original = KNeighborsTuner.transform

    def counting(self, X):
        sizes.append(len(X))
        return original(self, X)

    monkeypatch.setattr(KNeighborsTuner, "transform", counting)
    result = compare_pipelines(
        train_texts, y_train, test_texts, y_test, names=["kneighbors"], cache=tmp_path / "c"
    )
    assert sizes.count(len(test_texts)) == 1
    pipe = result.pipelines["kneighbors"]
    np.testing.assert_array_equal(result.predictions["kneighbors"], pipe.predict(result.X_test))
    np.testing.assert_allclose(
        result.probabilities["kneighbors"], pipe.predict_proba(result.X_test), rtol=1e-6
    )
    np.testing.assert_array_equal(
        result.tuned_test["kneighbors"], pipe[:-1].transform(result.X_test)
    )
