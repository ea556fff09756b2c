"""Property tests (hypothesis) over every numeric estimator, on tiny networks.

For random finite data of random shape: output shape and dtype, finite output, the same
``random_state`` gives the same output, ``transform``/``predict_proba`` do not depend on how
the input is split into calls, and ``partial_fit`` over any split keeps ``classes_`` and the
feature count.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from embkit import ContrastiveLearner, ContrastiveTuner, DifferentiableHead, FeedForwardTuner

LABELLED = {
    # output="tuned": the width is hidden_dim alone (output="concat" is tested in
    # tests/tuning/test_tuned_output.py)
    "FeedForwardTuner": FeedForwardTuner(4, n_epochs=2, batch_size=8, device="cpu", output="tuned"),
    "ContrastiveTuner": ContrastiveTuner(
        hidden_dim=3, n_epochs=2, batch_size=8, device="cpu", output="tuned"
    ),
    "DifferentiableHead": DifferentiableHead(hidden_dim=3, n_epochs=2, batch_size=8, device="cpu"),
}
PAIRS = ContrastiveLearner(3, n_epochs=2, batch_size=8, device="cpu")
OUT_DIM = {"FeedForwardTuner": 4, "ContrastiveTuner": 3, "ContrastiveLearner": 3}

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible in CI
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# finite values over a wide range (float32 products of 1e4-sized inputs stay finite)
VALUES = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def labelled(draw, min_rows=4):
    """``(X, y, seed)``: float32 data and string labels with at least two classes."""
    n = draw(st.integers(min_rows, 30))
    d = draw(st.integers(1, 5))
    X = draw(arrays(np.float32, (n, d), elements=VALUES))
    k = draw(st.integers(2, 3))
    codes = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    codes[:2] = [0, 1]  # two classes at least
    y = np.array(["a", "b", "c"])[codes]
    return X, y, draw(st.integers(0, 2**31 - 1))


@st.composite
def pairs(draw):
    n = draw(st.integers(2, 30))
    d = draw(st.integers(1, 5))
    X1 = draw(arrays(np.float32, (n, d), elements=VALUES))
    X2 = draw(arrays(np.float32, (n, d), elements=VALUES))
    y = draw(arrays(np.float32, n, elements=st.floats(-1, 1, width=32)))
    return X1, X2, y, draw(st.integers(0, 2**31 - 1))


def _assert_batch_invariant(chunked, whole, inputs=1.0):
    """Equal up to float32 rounding: BLAS picks other kernels for other batch sizes (one
    row is a matrix-vector product), which may change the last bit or two, never more.
    Probabilities are rounded through logits that grow with the inputs (``inputs``: their
    largest magnitude), so their tolerance grows with it."""
    scale = max(1.0, float(np.max(np.abs(whole), initial=0.0)), inputs)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6 * scale)


def _outputs(est, X):
    out = {}
    if hasattr(est, "transform"):
        out["transform"] = est.transform(X)
    if hasattr(est, "predict_proba"):
        out["predict_proba"] = est.predict_proba(X)
    return out


@pytest.mark.parametrize("name", list(LABELLED))
@SETTINGS
@given(data=labelled())
def test_labelled_estimators(name, data):
    X, y, seed = data
    est = clone(LABELLED[name]).set_params(random_state=seed).fit(X, y)
    out = _outputs(est, X)
    n_classes = len(np.unique(y))
    for key, value in out.items():
        assert value.dtype == np.float32, key
        assert np.all(np.isfinite(value)), key
        width = n_classes if key == "predict_proba" else OUT_DIM[name]
        assert value.shape == (len(X), width), key
    if "predict_proba" in out:
        np.testing.assert_allclose(out["predict_proba"].sum(axis=1), 1.0, rtol=1e-5)
    # same seed, same data: identical output
    again = clone(LABELLED[name]).set_params(random_state=seed).fit(X, y)
    for key, value in _outputs(again, X).items():
        np.testing.assert_array_equal(value, out[key], err_msg=key)
    # batching: row by row and in two chunks give what the whole array gives
    cut = len(X) // 2
    for key, value in out.items():
        method = getattr(est, key)
        size = float(np.abs(X).max()) if key == "predict_proba" else 1.0
        _assert_batch_invariant(np.concatenate([method(X[:cut]), method(X[cut:])]), value, size)
        rows = np.concatenate([method(X[i : i + 1]) for i in range(3)])
        _assert_batch_invariant(rows, value[:3], size)


@pytest.mark.parametrize("name", list(LABELLED))
@SETTINGS
@given(data=labelled(min_rows=6), n_chunks=st.integers(2, 4))
def test_partial_fit_over_a_split_keeps_classes_and_features(name, data, n_chunks):
    X, y, seed = data
    classes = np.array(["a", "b", "c"])
    est = clone(LABELLED[name]).set_params(random_state=seed)
    for i, rows in enumerate(np.array_split(np.arange(len(X)), n_chunks)):
        if len(rows) == 0:
            continue
        est.partial_fit(X[rows], y[rows], **({"classes": classes} if i == 0 else {}))
        assert est.classes_.tolist() == classes.tolist()
        assert est.n_features_in_ == X.shape[1]
    for key, value in _outputs(est, X).items():
        assert value.dtype == np.float32 and np.all(np.isfinite(value)), key
        width = len(classes) if key == "predict_proba" else OUT_DIM[name]
        assert value.shape == (len(X), width)


@SETTINGS
@given(data=pairs())
def test_contrastive_learner(data):
    X1, X2, y, seed = data
    learner = clone(PAIRS).set_params(random_state=seed).fit(X1, X2, y)
    emb = learner.transform(X1)
    assert emb.dtype == np.float32 and emb.shape == (len(X1), OUT_DIM["ContrastiveLearner"])
    assert np.all(np.isfinite(emb))
    sim = learner.predict(X1, X2)
    assert sim.shape == (len(X1),) and np.all(np.isfinite(sim))
    assert np.all(np.abs(sim) <= 1 + 1e-5)
    again = clone(PAIRS).set_params(random_state=seed).fit(X1, X2, y)
    np.testing.assert_array_equal(again.transform(X1), emb)
    cut = len(X1) // 2
    _assert_batch_invariant(
        np.concatenate([learner.transform(X1[:cut]), learner.transform(X1[cut:])]), emb
    )
    # partial_fit over a split keeps the feature count
    streamed = clone(PAIRS).set_params(random_state=seed)
    for rows in np.array_split(np.arange(len(X1)), 2):
        if len(rows):
            streamed.partial_fit(X1[rows], X2[rows], y[rows])
            assert streamed.n_features_in_ == X1.shape[1]
