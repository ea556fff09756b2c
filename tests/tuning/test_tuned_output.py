"""The tuners' ``output`` parameter: the tuned embedding alone, or the input beside it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from embkit import ContrastiveTuner, FeedForwardTuner

TUNERS = [
    FeedForwardTuner(6, n_epochs=3, batch_size=16, random_state=0),
    ContrastiveTuner(6, n_epochs=3, batch_size=16, random_state=0),
]


def data(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, np.where(X[:, 0] > 0, "pos", "neg")


@pytest.mark.parametrize("tuner", TUNERS, ids=lambda t: type(t).__name__)
def test_concat_is_the_input_then_the_scaled_tuned_embedding(tuner):
    X, y = data()
    concat = tuner.set_params(output="concat").fit(X, y)
    out = concat.transform(X)
    assert out.shape == (60, 5 + 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :5], X)
    tuned = concat.set_params(output="tuned").transform(X)
    assert tuned.shape == (60, 6)
    np.testing.assert_allclose(out[:, 5:], tuned * concat.output_scale_, rtol=1e-6)
    # the tuned half has the input's mean row norm on the training rows
    assert np.linalg.norm(out[:, 5:], axis=1).mean() == pytest.approx(
        np.linalg.norm(X, axis=1).mean(), rel=1e-4
    )


@pytest.mark.parametrize("tuner", TUNERS, ids=lambda t: type(t).__name__)
def test_feature_names_follow_the_output(tuner):
    import pandas as pd

    X, y = data()
    prefix = type(tuner).__name__.lower()
    fitted = tuner.set_params(output="concat").fit(X, y)
    names = fitted.get_feature_names_out()
    assert names.tolist() == [f"x{i}" for i in range(5)] + [f"{prefix}{i}" for i in range(6)]
    assert fitted.set_params(output="tuned").get_feature_names_out().tolist() == [
        f"{prefix}{i}" for i in range(6)
    ]
    frame = pd.DataFrame(X, columns=list("abcde"))
    fitted = tuner.set_params(output="concat").fit(frame, y)
    fitted.set_output(transform="pandas")
    out = fitted.transform(frame)
    assert list(out.columns[:5]) == list("abcde") and out.shape == (60, 11)
    fitted.set_output(transform="default")


@pytest.mark.parametrize("tuner", TUNERS, ids=lambda t: type(t).__name__)
def test_output_is_sweepable_by_grid_search(tuner):
    X, y = data(n=80)
    pipe = make_pipeline(tuner.set_params(output="tuned"), LogisticRegression())
    step = pipe.steps[0][0]
    grid = GridSearchCV(
        pipe, {f"{step}__output": ["tuned", "concat"], f"{step}__early_stopping": [False, True]},
        cv=2,
    ).fit(X, y)  # fmt: skip
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_estimator_[0].transform(X).shape[1] == (
        11 if grid.best_params_[f"{step}__output"] == "concat" else 6
    )


@pytest.mark.parametrize("tuner", TUNERS, ids=lambda t: type(t).__name__)
def test_bad_output_is_a_clear_error(tuner):
    X, y = data()
    with pytest.raises(ValueError, match="'output' parameter of .* must be a str among"):
        tuner.set_params(output="residual").fit(X, y)
    tuner.set_params(output="concat")


def test_partial_fit_keeps_the_output_scale_current():
    X, y = data()
    tuner = FeedForwardTuner(6, output="concat", random_state=0)
    tuner.partial_fit(X, y, classes=["neg", "pos"])
    first = tuner.output_scale_
    tuner.partial_fit(X * 3, y)
    assert tuner.output_scale_ != first
    assert tuner.transform(X).shape == (60, 11)
