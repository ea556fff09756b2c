"""Validation-driven training (early stopping) of the torch estimators."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from embkit import ContrastiveLearner, ContrastiveTuner, DifferentiableHead, FeedForwardTuner
from embkit._training import torch_base
from embkit._training.early_stopping import EarlyStopping, holdout_indices


def noisy_data(n=160, d=20, seed=0):
    """Labels that depend weakly on X: a wide network over-fits after a few passes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = np.where(X[:, 0] + 2.0 * rng.normal(size=n) > 0, "pos", "neg")
    return X, y


def overfitting(cls, **kw):
    """Settings under which later passes are worse on held-out rows than early ones."""
    base = {
        "n_epochs": 60, "learning_rate": 3e-2, "batch_size": 32, "random_state": 0,
        "early_stopping": True, "n_iter_no_change": 3,
    }  # fmt: skip
    if cls is DifferentiableHead:
        base.update(hidden_dim=256, dropout=0.0)
    elif cls is FeedForwardTuner:
        base.update(hidden_dim=256, dropout=0.0, weight_decay=0.0)
    else:
        base.update(hidden_dim=64, dropout=0.0)
    base.update(kw)
    return cls(**base)


CLASSES = [FeedForwardTuner, DifferentiableHead, ContrastiveTuner]


def record_stopping(monkeypatch):
    """Spy on ``_end_validation`` to keep the hold-out each fit used."""
    seen = []
    original = torch_base.TorchEstimatorBase._end_validation

    def spy(self, stopping):
        seen.append((self, stopping))
        return original(self, stopping)

    monkeypatch.setattr(torch_base.TorchEstimatorBase, "_end_validation", spy)
    return seen


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_stops_early_and_restores_the_best_pass(cls, monkeypatch):
    seen = record_stopping(monkeypatch)
    X, y = noisy_data()
    est = overfitting(cls).fit(X, y)
    learner, stopping = seen[-1]
    scores = est.validation_scores_
    assert learner.n_iter_ < 60  # stopped before n_epochs
    assert len(scores) == learner.n_iter_
    assert est.best_iteration_ < learner.n_iter_  # later passes were worse ...
    assert scores[-1] < est.best_validation_score_
    assert est.best_validation_score_ == max(scores)
    assert scores[est.best_iteration_ - 1] == est.best_validation_score_
    # ... and the returned weights are those of the best pass, not the last
    assert learner._validation_score(stopping.data) == pytest.approx(
        est.best_validation_score_, rel=1e-6
    )


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_seeded_and_clone_safe(cls):
    X, y = noisy_data()
    a = overfitting(cls).fit(X, y)
    b = clone(a).fit(X, y)
    c = overfitting(cls, random_state=1).fit(X, y)
    assert a.validation_scores_ == b.validation_scores_
    assert a.validation_scores_ != c.validation_scores_
    out = (
        (lambda e: e.predict_proba(X)) if cls is DifferentiableHead else (lambda e: e.transform(X))
    )
    np.testing.assert_array_equal(out(a), out(b))


def test_holdout_is_stratified_seeded_and_sized():
    labels = np.repeat([0, 1, 2], [100, 50, 10])
    train, val = holdout_indices(len(labels), 0.1, np.random.default_rng(0), labels)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(160))
    assert np.bincount(labels[val]).tolist() == [10, 5, 1]
    again = holdout_indices(len(labels), 0.1, np.random.default_rng(0), labels)[1]
    other = holdout_indices(len(labels), 0.1, np.random.default_rng(1), labels)[1]
    np.testing.assert_array_equal(val, again)
    assert not np.array_equal(val, other)
    # a class with a single row stays in training; without labels the split is plain
    train, val = holdout_indices(11, 0.1, np.random.default_rng(0), np.array([0] * 10 + [1]))
    assert 10 in train and len(val) == 1
    train, val = holdout_indices(20, 0.25, np.random.default_rng(0))
    assert (len(train), len(val)) == (15, 5)


@pytest.mark.parametrize(
    ("n_classes", "rows", "held_out"),
    [(10, 2, 2), (6, 4, 2), (50, 3, 15), (20, 5, 10), (2, 2, 1), (3, 8, 3)],
)
def test_holdout_of_small_classes_keeps_to_the_fraction(n_classes, rows, held_out):
    """Classes too small to give round(fraction * rows) share one pool: few-shot data is
    not held out by half (one row of each 2-row class was 50% of the data)."""
    labels = np.repeat(np.arange(n_classes), rows)
    train, val = holdout_indices(len(labels), 0.1, np.random.default_rng(0), labels)
    assert len(val) == held_out and len(train) + len(val) == len(labels)
    assert np.bincount(labels[val]).max() == 1  # one row from each class that gives one
    assert np.all(np.bincount(labels[train], minlength=n_classes) >= 1)  # never a whole class


def test_a_rare_class_beside_a_large_one_still_gives_a_validation_row():
    labels = np.array([0] * 100 + [1] * 4)
    val = holdout_indices(104, 0.1, np.random.default_rng(0), labels)[1]
    assert np.bincount(labels[val]).tolist() == [10, 1]
    X = np.random.default_rng(0).normal(size=(104, 8)).astype(np.float32)
    Y = np.zeros((104, 3))  # a label matrix: rows with a label are a stratum of 4
    Y[:4, 0] = Y[:4, 1] = 1
    Y[2:4, 2] = 1
    tuner = ContrastiveTuner(early_stopping=True, n_epochs=3, random_state=0).fit(X, Y)
    assert len(tuner.validation_scores_) == 3


def test_the_hold_out_is_a_view_of_the_training_rows_not_a_copy():
    X, y = noisy_data(n=200)
    est = FeedForwardTuner(8, early_stopping=True, random_state=0)
    est._validate_params()
    data = est._prepare_data(X, y, reset=True, device=torch.device("cpu"))
    est._initialize(data, torch.device("cpu"))
    train, stopping = est._start_validation(data)
    assert train.X.data_ptr() == data.X.data_ptr()  # the same storage: no copy
    assert train.n + stopping.data.n == 200
    batches = torch.cat(list(est._batches(train))).sort().values
    np.testing.assert_array_equal(batches.numpy(), train.rows.numpy())  # only training rows
    assert not set(batches.tolist()) & set(range(200)) - set(train.rows.tolist())


def test_gathered_cosine_scores_many_pairs_in_chunks_with_the_same_values():
    from embkit._training.nn import _PAIR_CHUNK, gathered_cosine

    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(500, 16, generator=gen)
    i1 = torch.randint(0, 500, (_PAIR_CHUNK * 2 + 7,), generator=gen)
    i2 = torch.randint(0, 500, (_PAIR_CHUNK * 2 + 7,), generator=gen)
    whole = gathered_cosine(emb, i1, i2)
    with torch.no_grad():
        chunked = gathered_cosine(emb, i1, i2)
    assert torch.equal(whole, chunked)


def test_fit_holds_out_a_stratified_part(monkeypatch):
    seen = record_stopping(monkeypatch)
    X, y = noisy_data(n=200)
    FeedForwardTuner(
        8, n_epochs=3, early_stopping=True, validation_fraction=0.2, random_state=0
    ).fit(X, y)
    val = seen[-1][1].data
    assert val.n == 40
    codes = val.y.numpy()
    expected = np.round(0.2 * np.unique(y, return_counts=True)[1]).astype(int)
    assert np.bincount(codes).tolist() == expected.tolist()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_partial_fit_never_holds_data_out(cls, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("partial_fit must not hold data out")

    monkeypatch.setattr(torch_base, "holdout_indices", refuse)
    X, y = noisy_data(n=64)
    on = overfitting(cls, n_epochs=3).partial_fit(X, y, classes=["neg", "pos"])
    off = overfitting(cls, n_epochs=3, early_stopping=False)
    off.partial_fit(X, y, classes=["neg", "pos"])
    module = (lambda e: e.learner_.module_) if cls is ContrastiveTuner else (lambda e: e.module_)
    for p, q in zip(module(on).parameters(), module(off).parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    inner = on.learner_ if cls is ContrastiveTuner else on
    assert inner.n_iter_ == 1 and not hasattr(inner, "validation_scores_")


def test_early_stopping_off_is_unchanged():
    """fit without early stopping is still n_epochs passes, equal to partial_fit passes."""
    X, y = noisy_data(n=64)
    est = FeedForwardTuner(8, n_epochs=3, early_stopping=False, random_state=0, batch_size=16)
    fitted = clone(est).fit(X, y)
    stepped = clone(est)
    for _ in range(3):
        stepped.partial_fit(X, y, classes=["neg", "pos"])
    assert fitted.n_iter_ == 3 and not hasattr(fitted, "best_iteration_")
    for tuner in (fitted, stepped):  # the same network (the concat scales differ)
        tuner.set_params(output="tuned")
    np.testing.assert_array_equal(fitted.transform(X), stepped.transform(X))


def test_refitting_without_early_stopping_drops_validation_attributes():
    X, y = noisy_data(n=64)
    est = FeedForwardTuner(8, n_epochs=3, early_stopping=True, random_state=0).fit(X, y)
    assert hasattr(est, "best_iteration_")
    est.set_params(early_stopping=False).fit(X, y)
    assert not hasattr(est, "best_iteration_") and not hasattr(est, "validation_scores_")


def test_learner_on_pairs_stops_early():
    rng = np.random.default_rng(0)
    X1, X2 = rng.normal(size=(2, 300, 10)).astype(np.float32)
    y = rng.uniform(0, 1, 300).astype(np.float32)  # unlearnable: validation loss rises
    learner = ContrastiveLearner(
        64, dropout=0.0, n_epochs=60, learning_rate=3e-2, batch_size=32, random_state=0,
        early_stopping=True, n_iter_no_change=3,
    ).fit(X1, X2, y)  # fmt: skip
    assert learner.n_iter_ < 60 and learner.best_iteration_ < learner.n_iter_


BAD_PARAMS = [
    ({"early_stopping": "yes"}, TypeError, "early_stopping"),
    ({"validation_fraction": 0.0}, ValueError, "validation_fraction"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    ({"validation_fraction": "a"}, TypeError, "validation_fraction"),
    ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
    ({"n_iter_no_change": 2.5}, TypeError, "n_iter_no_change"),
    ({"tol": -1.0}, ValueError, "tol"),
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("params", "error", "name"), BAD_PARAMS)
def test_bad_params_are_clear_and_leave_a_fitted_estimator_alone(cls, params, error, name):
    X, y = noisy_data(n=64)
    est = overfitting(cls, n_epochs=2).fit(X, y)
    before = est.predict_proba(X) if cls is DifferentiableHead else est.transform(X)
    with pytest.raises(error, match=name):
        est.set_params(**params).fit(X, y)
    after = est.predict_proba(X) if cls is DifferentiableHead else est.transform(X)
    np.testing.assert_array_equal(before, after)


def test_one_sample_with_early_stopping_is_a_clear_error():
    with pytest.raises(ValueError, match="1 sample"):
        ContrastiveLearner(4, early_stopping=True).fit(
            np.ones((1, 3), np.float32), np.ones((1, 3), np.float32), [0.5]
        )


def test_early_stopping_book_keeping_follows_mlp():
    module = torch.nn.Linear(2, 1)
    stop = EarlyStopping(n_iter_no_change=2, tol=0.1)
    # +0.05 is below tol: it counts as no improvement, but its weights are still the best
    decisions = [stop.update(s, module, i + 1) for i, s in enumerate([1.0, 1.05, 1.08, 1.0])]
    assert decisions == [False, False, False, True]
    assert (stop.best_score, stop.best_iteration) == (1.08, 3)


@pytest.mark.parametrize("cls", [FeedForwardTuner, ContrastiveTuner, DifferentiableHead])
def test_early_stopping_is_skipped_when_the_hold_out_is_too_small_to_judge(cls):
    # 4 rows a class: 1-2 held-out rows chose a pass near the start and the tuner, as a
    # classifier, predicted at chance (docs/tuners.md's example); now every row trains
    rng = np.random.default_rng(0)
    centres = np.repeat(np.eye(2, 8, dtype=np.float32) * 3, 4, axis=0)
    X, y = centres + rng.normal(scale=0.3, size=(8, 8)).astype(np.float32), np.repeat(["a", "b"], 4)
    est = cls(n_epochs=30, early_stopping=True, random_state=0).fit(X, y)
    inner = est.learner_ if cls is ContrastiveTuner else est
    assert inner.n_iter_ == 30 and not hasattr(inner, "validation_scores_")
    if cls is not ContrastiveTuner:
        assert est.score(X, y) == 1.0
    # two held-out rows a class (20 rows a class at the default 0.1): early stopping runs
    X2 = np.repeat(np.eye(2, 8, dtype=np.float32) * 3, 20, axis=0)
    X2 += rng.normal(scale=0.3, size=X2.shape).astype(np.float32)
    big = cls(n_epochs=30, early_stopping=True, random_state=0).fit(X2, np.repeat(["a", "b"], 20))
    assert len((big.learner_ if cls is ContrastiveTuner else big).validation_scores_) >= 1


def test_early_stopping_runs_on_many_small_classes_with_a_large_hold_out():
    # 20 classes of 14 rows hold out one row each: 20 rows rank the passes well enough
    rng = np.random.default_rng(0)
    X = rng.normal(size=(280, 8)).astype(np.float32)
    y = np.repeat([f"c{i}" for i in range(20)], 14)
    est = FeedForwardTuner(n_epochs=30, early_stopping=True, random_state=0).fit(X, y)
    assert len(est.validation_scores_) >= 1
