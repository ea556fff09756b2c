"""ContrastiveLearner: the pair learner's own equivalents of sklearn's checks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from embkit import ContrastiveLearner


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    X1, X2 = rng.normal(size=(2, 300, 6)).astype(np.float32)
    y = (np.sign(X1[:, 0]) == np.sign(X2[:, 0])).astype(np.float32)
    return X1, X2, y


def make(**kwargs):
    params = dict(shape_out=4, n_epochs=3, batch_size=64, random_state=0, device="cpu")
    return ContrastiveLearner(**{**params, **kwargs})


def test_learns_the_similarity(pairs):
    X1, X2, y = pairs
    learner = make(n_epochs=40, learning_rate=1e-2).fit(X1, X2, y)
    assert learner.score(X1, X2, y) > 0.6
    assert learner.loss_curve_[-1] < learner.loss_curve_[0]
    predicted = learner.predict(X1, X2)
    assert predicted.shape == (300,) and predicted.dtype == np.float32
    assert np.all(np.abs(predicted) <= 1 + 1e-6)
    assert predicted[y == 1].mean() > predicted[y == 0].mean()


def test_fit_equals_partial_fit_passes_and_fit_resets(pairs):
    X1, X2, y = pairs
    fitted = make(n_epochs=3).fit(X1, X2, y)
    streamed = make()
    for _ in range(3):
        streamed.partial_fit(X1, X2, y)
    np.testing.assert_array_equal(fitted.transform(X1), streamed.transform(X1))
    streamed.fit(X1, X2, y)
    assert streamed.n_iter_ == 3
    np.testing.assert_array_equal(fitted.transform(X1), streamed.transform(X1))


def test_seeded(pairs):
    X1, X2, y = pairs
    a = make().fit(X1, X2, y).transform(X1)
    b = make().fit(X1, X2, y).transform(X1)
    c = make(random_state=1).fit(X1, X2, y).transform(X1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_clone_repr_pickle(pairs):
    X1, X2, y = pairs
    learner = make().fit(X1, X2, y)
    assert "shape_out=4" in repr(learner)
    assert not hasattr(clone(learner), "module_")
    again = pickle.loads(pickle.dumps(learner))
    np.testing.assert_array_equal(again.transform(X1), learner.transform(X1))
    assert learner.get_feature_names_out().tolist() == [f"contrastivelearner{i}" for i in range(4)]


def test_zero_vectors_give_finite_similarity(pairs):
    import torch

    from embkit._training.nn import cosine_pairs

    assert cosine_pairs(torch.zeros(3, 4), torch.zeros(3, 4)).tolist() == [0.0, 0.0, 0.0]
    X1, X2, y = pairs
    learner = make(n_layers=1, activation="relu").fit(X1, X2, y)
    zeros = np.zeros((3, 6), dtype=np.float32)
    learner.partial_fit(zeros, zeros, np.ones(3, dtype=np.float32))
    assert np.all(np.isfinite(learner.transform(X1)))
    with torch.no_grad():  # a negative bias: relu maps a zero input to a zero embedding
        learner.module_.layers[0].bias.fill_(-1.0)
    assert not learner.transform(zeros).any()
    np.testing.assert_array_equal(learner.predict(zeros, zeros), np.zeros(3))


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda X1, X2, y: (X1, X2[:-1], y), "same number of rows"),
        (lambda X1, X2, y: (X1, X2[:, :-1], y), "X2: X has 5 features"),
        (lambda X1, X2, y: (X1, X2, y[:-1]), "targets"),
        (lambda X1, X2, y: (X1, X2, y * 3), r"\[-1, 1\]"),
        (lambda X1, X2, y: (X1, None, y), "X2"),
        (lambda X1, X2, y: (X1, X2, None), "y is required"),
        (lambda X1, X2, y: (X1[:, 0], X2, y), "2D"),
        (lambda X1, X2, y: (np.where(X1 > 1, np.nan, X1), X2, y), "NaN"),
        (lambda X1, X2, y: (X1, np.where(X2 > 1, np.inf, X2), y), "infinity"),
        (lambda X1, X2, y: (X1[:0], X2[:0], y[:0]), "0 sample"),
        (lambda X1, X2, y: (X1[:, :3], X2[:, :3], y), "features"),
    ],
)
def test_bad_input_is_clear_and_changes_nothing(pairs, mutate, match):
    X1, X2, y = pairs
    learner = make().fit(X1, X2, y)
    before = learner.transform(X1)
    n_iter = learner.n_iter_
    with pytest.raises(ValueError, match=match):
        learner.partial_fit(*mutate(X1, X2, y))
    assert learner.n_iter_ == n_iter
    np.testing.assert_array_equal(learner.transform(X1), before)


def test_string_targets_are_a_type_error_naming_y(pairs):
    X1, X2, y = pairs
    learner = make().fit(X1, X2, y)
    with pytest.raises(TypeError, match=r"y must hold numbers \(target similarities"):
        learner.partial_fit(X1, X2, np.full(len(y), "similar"))
    with pytest.raises(TypeError, match="y must hold numbers"):
        learner.score(X1, X2, ["high"] * len(y))


def test_transform_before_fit_is_not_fitted_error(pairs):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make().transform(pairs[0])
    with pytest.raises(NotFittedError):
        make().predict(pairs[0], pairs[1])
