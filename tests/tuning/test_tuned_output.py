"""The tuners' ``output`` parameter: the tuned embedding alone, the input beside it, or
(feed-forward) the input plus a learned correction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from embkit import ContrastiveTuner, FeedForwardTuner

TUNERS = [
    FeedForwardTuner(6, n_epochs=3, batch_size=16, random_state=0, output="concat"),
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
    for output in ("concat", "tuned"):  # names that do not match the fit's are refused
        with pytest.raises(ValueError, match="input_features"):
            fitted.set_params(output=output).get_feature_names_out(list("vwxyz"))


@pytest.mark.parametrize("tuner", TUNERS, ids=lambda t: type(t).__name__)
def test_output_is_sweepable_by_grid_search(tuner):
    X, y = data(n=80)
    outputs = sorted(type(tuner)._parameter_constraints["output"][0].options)
    pipe = make_pipeline(tuner.set_params(output="tuned"), LogisticRegression())
    step = pipe.steps[0][0]
    grid = GridSearchCV(
        pipe, {f"{step}__output": outputs, f"{step}__early_stopping": [False, True]}, cv=2,
    ).fit(X, y)  # fmt: skip
    assert len(grid.cv_results_["params"]) == 2 * len(outputs)
    width = {"concat": 11, "tuned": 6, "residual": 5}
    assert (
        grid.best_estimator_[0].transform(X).shape[1]
        == (width[grid.best_params_[f"{step}__output"]])
    )


@pytest.mark.parametrize("tuner", TUNERS, ids=lambda t: type(t).__name__)
def test_bad_output_is_a_clear_error(tuner):
    X, y = data()
    with pytest.raises(ValueError, match="'output' parameter of .* must be a str among"):
        tuner.set_params(output="sum").fit(X, y)
    tuner.set_params(output="concat")


def test_contrastive_tuner_has_no_residual_output():
    X, y = data()
    with pytest.raises(ValueError, match="'output' parameter of .* must be a str among"):
        ContrastiveTuner(6, n_epochs=1, output="residual").fit(X, y)


def test_residual_output_keeps_the_input_width_and_names():
    X, y = data()
    tuner = FeedForwardTuner(16, n_epochs=5, batch_size=16, random_state=0, output="residual")
    tuner.fit(X, y)
    assert tuner.output_scale_ == 1.0
    out = tuner.transform(X)
    assert out.shape == (60, 5) and out.dtype == np.float32
    assert not np.allclose(out, X)  # trained: the correction is not zero any more
    assert tuner.get_feature_names_out().tolist() == [f"feedforwardtuner{i}" for i in range(5)]
    # the classifier head reads the same embedding that transform returns
    logits = tuner.module_.out(torch.as_tensor(out)).detach().numpy()
    np.testing.assert_array_equal(tuner.classes_[logits.argmax(1)], tuner.predict(X))


def test_residual_is_identity_plus_the_learned_correction():
    X, y = data()
    tuner = FeedForwardTuner(16, n_epochs=5, batch_size=16, random_state=0, output="residual")
    m = tuner.fit(X, y).module_
    with torch.no_grad():
        x = torch.as_tensor(X)
        correction = m.back(torch.relu(m.hidden(x))).numpy()
    np.testing.assert_allclose(tuner.transform(X), X + correction, rtol=1e-5, atol=1e-6)


def test_switching_between_residual_and_other_outputs_needs_a_refit():
    X, y = data()
    tuner = FeedForwardTuner(6, n_epochs=2, batch_size=16, random_state=0, output="residual")
    before = tuner.fit(X, y).transform(X)
    for other in ("tuned", "concat"):
        with pytest.raises(ValueError, match="call fit again"):
            tuner.set_params(output=other).transform(X)
        with pytest.raises(ValueError, match="call fit again"):
            tuner.get_feature_names_out()
    tuner.set_params(output="residual")
    np.testing.assert_array_equal(tuner.transform(X), before)  # the failed calls changed nothing
    assert tuner.set_params(output="concat").fit(X, y).transform(X).shape == (60, 11)
    with pytest.raises(ValueError, match="call fit again"):
        tuner.set_params(output="residual").transform(X)


def test_partial_fit_keeps_the_output_scale_current():
    X, y = data()
    tuner = FeedForwardTuner(6, output="concat", random_state=0)
    tuner.partial_fit(X, y, classes=["neg", "pos"])
    first = tuner.output_scale_
    tuner.partial_fit(X * 3, y)
    assert tuner.output_scale_ != first
    assert tuner.transform(X).shape == (60, 11)


@pytest.mark.parametrize("tuner", TUNERS, ids=lambda t: type(t).__name__)
def test_partial_fit_scale_counts_every_batch_since_fit(tuner):
    X, y = data(400)
    tuner = clone(tuner).set_params(output="concat")
    for start in range(0, 400, 100):
        tuner.partial_fit(X[start : start + 100], y[start : start + 100], classes=["neg", "pos"])
    scale = tuner.output_scale_
    tuner.partial_fit(X[:1] * 50, y[:1])  # one short, odd last batch
    assert abs(tuner.output_scale_ / scale - 1) < 0.05
    # the scale is the ratio of the norm sums of every row seen, each with its network
    raw = np.linalg.norm(X, axis=1).sum() + np.linalg.norm(X[:1] * 50, axis=1).sum()
    assert tuner._scale_sums_[0] == pytest.approx(raw, rel=1e-5)
    assert tuner.output_scale_ == tuner._scale_sums_[0] / tuner._scale_sums_[1]
    refit = tuner.fit(X[:100], y[:100])  # fit starts the sums again
    assert refit._scale_sums_[0] == pytest.approx(np.linalg.norm(X[:100], axis=1).sum(), rel=1e-5)


@pytest.mark.parametrize(
    ("fitted_as", "switched_to"), [("concat", "residual"), ("residual", "tuned")]
)
def test_partial_fit_refuses_a_switch_to_or_from_residual_and_keeps_the_tuner(
    fitted_as, switched_to
):
    X, y = data()
    tuner = FeedForwardTuner(6, n_epochs=2, early_stopping=False, random_state=0, output=fitted_as)
    before = tuner.fit(X, y).transform(X)
    scale = tuner.output_scale_
    with pytest.raises(ValueError, match="call fit again"):
        tuner.set_params(output=switched_to).partial_fit(X, y)
    tuner.set_params(output=fitted_as)
    assert tuner.output_scale_ == scale
    np.testing.assert_array_equal(tuner.transform(X), before)
