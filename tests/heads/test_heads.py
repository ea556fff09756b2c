"""DifferentiableHead behaviour (sklearn's common checks run in tests/test_common.py)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from embkit import DifferentiableHead


def _head(**kw):
    params = dict(n_epochs=30, batch_size=16, random_state=0, device="cpu")
    params.update(kw)
    return DifferentiableHead(**params)


def test_predict_proba_contract_with_string_labels(blobs):
    X, y = blobs
    head = _head().fit(X, y)
    proba = head.predict_proba(X)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(head.predict(X), head.classes_[proba.argmax(axis=1)])
    assert head.classes_.tolist() == ["alpha", "beta", "gamma"]
    assert head.score(X, y) > 0.95


def test_hidden_layer_and_reproducibility(blobs):
    X, y = blobs
    a = _head(hidden_dim=8, dropout=0.1).fit(X, y)
    b = _head(hidden_dim=8, dropout=0.1).fit(X, y)
    assert a.module_.hidden.out_features == 8
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_partial_fit_with_classes(blobs):
    X, y = blobs
    head = _head()
    with pytest.raises(ValueError, match="classes must be passed"):
        head.partial_fit(X, y)
    head.partial_fit(X[:40], y[:40], classes=["alpha", "beta", "gamma"])
    before = head.predict_proba(X)
    head.partial_fit(X[40:], y[40:])
    assert head.n_iter_ == 2
    assert not np.array_equal(before, head.predict_proba(X))
    with pytest.raises(ValueError, match="not in classes_"):
        head.partial_fit(X[:2], ["alpha", "delta"])
    assert head.n_iter_ == 2


def test_fit_equals_as_many_partial_fit_passes(blobs):
    X, y = blobs
    fitted = _head(n_epochs=4, hidden_dim=8, dropout=0.1).fit(X, y)
    streamed = _head(n_epochs=4, hidden_dim=8, dropout=0.1)
    for _ in range(4):
        streamed.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_array_equal(fitted.predict_proba(X), streamed.predict_proba(X))
    assert streamed.n_iter_ == 4


def test_sample_weight_and_class_weight_shift_predictions(blobs):
    X, y = blobs
    weights = np.where(y == "alpha", 50.0, 1.0)
    plain = _head(n_epochs=3).fit(X, y).predict_proba(X)[:, 0].mean()
    weighted = _head(n_epochs=3).fit(X, y, sample_weight=weights).predict_proba(X)[:, 0].mean()
    assert weighted > plain
    cw = _head(n_epochs=3, class_weight={"alpha": 50.0}).fit(X, y).predict_proba(X)[:, 0].mean()
    assert cw > plain


def test_multi_label_with_threshold(blobs):
    X, y = blobs
    Y = np.column_stack([y == "alpha", y != "gamma"]).astype(int)
    head = _head(multi_label=True, n_epochs=60).fit(X, Y)
    assert head.multi_label_
    proba = head.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_array_equal(head.predict(X), (proba >= 0.5).astype(int))
    strict = clone(head).set_params(threshold=0.99).fit(X, Y)
    np.testing.assert_array_equal(strict.predict(X), (proba >= 0.99).astype(int))
    assert strict.predict(X).sum() < head.predict(X).sum()
    with pytest.raises(ValueError, match="multi_label=True needs y as a 2-D"):
        _head(multi_label=True).fit(X, y)


def test_gridsearch_in_a_pipeline(blobs):
    X, y = blobs
    pipe = make_pipeline(StandardScaler(), _head(n_epochs=10))
    search = GridSearchCV(pipe, {"differentiablehead__hidden_dim": [None, 4]}, cv=2)
    search.fit(X, y)
    assert search.best_score_ > 0.9


def test_pickle_round_trip(blobs):
    X, y = blobs
    head = _head().fit(X, y)
    restored = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(restored.predict_proba(X), head.predict_proba(X))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"multi_label": "yes"}, TypeError, "multi_label"),
        ({"class_weight": "even"}, ValueError, "class_weight"),
        ({"class_weight": {"alpha": np.nan}}, ValueError, "class_weight values must be finite"),
        ({"class_weight": {"alpha": -1.0}}, ValueError, "class_weight values must be finite"),
    ],
)
def test_bad_params(blobs, kwargs, error, match):
    X, y = blobs
    with pytest.raises(error, match=match):
        _head(**kwargs).fit(X, y)


def test_bad_input_leaves_fitted_head_unchanged(blobs):
    X, y = blobs
    head = _head().fit(X, y)
    proba = head.predict_proba(X)
    with pytest.raises(ValueError, match="different lengths"):
        head.fit(X, y[:10])
    with pytest.raises(ValueError, match="features"):
        head.partial_fit(X[:, :4], y)
    np.testing.assert_array_equal(head.predict_proba(X), proba)


@pytest.mark.parametrize("multi_label", [False, True])
def test_balanced_class_weights_count_a_weight_as_repetitions(multi_label):
    # "balanced" came from the plain class counts, so a weight of 3 no longer equalled the
    # row three times over
    gen = np.random.default_rng(0)
    X = gen.normal(size=(12, 3)).astype(np.float32)
    y = np.repeat([0, 1], 6)
    if multi_label:
        y = np.c_[y, (X[:, 0] > 0).astype(int)]
    w = np.r_[[3] * 6, [1] * 6]
    params = dict(n_epochs=20, batch_size=64, class_weight="balanced", random_state=0)
    weighted = DifferentiableHead(**params, device="cpu").fit(X, y, sample_weight=w)
    repeated = DifferentiableHead(**params, device="cpu").fit(
        np.repeat(X, w, 0), np.repeat(y, w, 0)
    )
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5)
