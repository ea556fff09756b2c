"""Behaviour every numeric embkit estimator shares: seeding, streaming, pickling, bad input."""

from __future__ import annotations

import copy
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from embkit import ContrastiveTuner, DifferentiableHead, FeedForwardTuner

# early stopping off: these tests pin the fit / partial_fit contract, where fit(n) equals
# n partial_fit passes (early stopping has its own tests in tests/training/)
_CHEAP = {"n_epochs": 3, "batch_size": 32, "random_state": 0, "device": "cpu"}
TUNERS = [
    FeedForwardTuner(hidden_dim=6, early_stopping=False, **_CHEAP),
    ContrastiveTuner(hidden_dim=5, early_stopping=False, **_CHEAP),
]
IDS = [type(t).__name__ for t in TUNERS]


def _state(est):
    """Everything fitted, as plain comparable values."""
    out = {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}
    module = est.learner_.module_ if hasattr(est, "learner_") else est.module_
    out["weights"] = [p.detach().clone() for p in module.parameters()]
    return out


def _assert_same_state(a, b):
    wa, wb = a.pop("weights"), b.pop("weights")
    for pa, pb in zip(wa, wb, strict=True):
        assert np.array_equal(pa.numpy(), pb.numpy())
    assert a.keys() == b.keys()


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_same_seed_same_output(tuner, blobs):
    X, y = blobs
    a = clone(tuner).fit(X, y).transform(X)
    b = clone(tuner).fit(X, y).transform(X)
    c = clone(tuner).set_params(random_state=1).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_no_global_seeding(tuner, blobs):
    import torch

    X, y = blobs
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    clone(tuner).fit(X, y)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_partial_fit_passes_equal_fit(tuner, blobs):
    X, y = blobs
    fitted = clone(tuner).set_params(n_epochs=4).fit(X, y)
    streamed = clone(tuner)
    for _ in range(4):
        streamed.partial_fit(X, y, classes=np.unique(y))
    # the same network; the concat scale differs (partial_fit's spans the four passes)
    for est in (fitted, streamed):
        est.set_params(output="tuned")
    np.testing.assert_array_equal(fitted.transform(X), streamed.transform(X))
    assert len(streamed.loss_curve_) == 4


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_partial_fit_continues_and_fit_resets(tuner, blobs):
    X, y = blobs
    est = clone(tuner).set_params(n_epochs=1)
    est.partial_fit(X, y, classes=np.unique(y))
    first = est.transform(X)
    est.partial_fit(X[:40], y[:40])  # a batch may omit classes
    assert not np.allclose(first, est.transform(X))
    assert len(est.loss_curve_) == 2
    est.fit(X, y)
    assert len(est.loss_curve_) == 1
    np.testing.assert_array_equal(est.transform(X), first)


def test_contrastive_partial_fit_without_classes_takes_the_labels_it_sees(blobs):
    """Pairs are drawn inside each batch: classes= is optional, and new labels may come."""
    X, y = blobs
    first = ContrastiveTuner(hidden_dim=4, n_epochs=1, random_state=0).partial_fit(X[:80], y[:80])
    assert first.classes_.tolist() == ["alpha", "beta"] and first.n_features_in_ == 8
    declared = ContrastiveTuner(hidden_dim=4, n_epochs=1, random_state=0)
    declared.partial_fit(X[:80], y[:80], classes=["alpha", "beta"])
    np.testing.assert_array_equal(first.transform(X), declared.transform(X))
    first.partial_fit(X[40:], y[40:])  # gamma is new: the stream may bring it
    assert first.classes_.tolist() == ["alpha", "beta", "gamma"]
    with pytest.raises(ValueError, match="gamma"):  # declared classes stay a promise
        declared.partial_fit(X[40:], y[40:])
    with pytest.raises(ValueError, match="at least two classes"):
        ContrastiveTuner(hidden_dim=4).partial_fit(X[:40], y[:40])


def test_full_batch_weights_are_repetitions_and_zero_weight_rows_are_removed(blobs):
    """One batch per pass: fitting with weights is bit-identical to the repeated rows."""
    X, y = blobs
    X, y = X[::4], y[::4]  # 30 rows
    w = np.arange(30) % 3  # 0, 1, 2, ...: a third of the rows removed, a third doubled
    repeated = np.repeat(np.arange(30), w)[::-1]  # another order, too
    for cls, params in ((FeedForwardTuner, {"hidden_dim": 8}), (ContrastiveTuner, {})):
        full = {"n_epochs": 5, "batch_size": 64, "random_state": 0, "early_stopping": False}
        full.update(params)
        weighted = cls(**full).fit(X, y, sample_weight=w)
        plain = cls(**full).fit(X[repeated], y[repeated])
        np.testing.assert_array_equal(weighted.transform(X), plain.transform(X))
        # mini-batches (16 rows a step): equal only in expectation, so not bit-identical
        small = {**full, "batch_size": 16}
        a = cls(**small).fit(X, y, sample_weight=w).transform(X)
        b = cls(**small).fit(X[repeated], y[repeated]).transform(X)
        assert not np.array_equal(a, b)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_partial_fit_needs_classes_first_and_rejects_unseen(tuner, blobs):
    X, y = blobs
    est = clone(tuner)
    if isinstance(est, FeedForwardTuner):  # a classifier: ContrastiveTuner's are optional
        with pytest.raises(ValueError, match="classes must be passed"):
            est.partial_fit(X, y)
        assert not hasattr(est, "n_features_in_")
    est.partial_fit(X, y, classes=["alpha", "beta", "gamma"])
    before = _state(est)
    y_bad = y.copy()
    y_bad[0] = "delta"
    with pytest.raises(ValueError, match="delta"):
        est.partial_fit(X, y_bad)
    _assert_same_state(before, _state(est))


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_mixed_label_types_and_bad_classes_name_the_argument(tuner, blobs):
    X, y = blobs
    est = clone(tuner).partial_fit(X, y, classes=["alpha", "beta", "gamma"])
    out, curve = est.transform(X), list(est.loss_curve_)
    mixed = ["alpha", 1] * (len(X) // 2)  # numpy would turn 1 into "1" silently
    with pytest.raises(TypeError, match=r"y mixes label types \['int', 'str'\]"):
        est.fit(X, mixed)
    with pytest.raises(TypeError, match="classes mixes label types"):
        clone(tuner).partial_fit(X, y, classes=["alpha", "beta", "gamma", None])
    codes = np.searchsorted(["alpha", "beta", "gamma"], y)
    for classes in ([0, 1, 2, np.nan], [[0, 1, 2]]):
        with pytest.raises(ValueError, match="classes must be a 1-D list"):
            clone(tuner).partial_fit(X, codes, classes=classes)
    for classes in ("alpha", 3):
        with pytest.raises(ValueError, match="classes must be a 1-D list"):
            est.partial_fit(X, y, classes=classes)
    np.testing.assert_array_equal(est.transform(X), out)
    assert est.loss_curve_ == curve


def test_partial_fit_validates_parameters_set_since_the_first_call(blobs):
    X, y = blobs
    est = clone(TUNERS[0]).partial_fit(X, y, classes=["alpha", "beta", "gamma"])
    out, params = est.transform(X), est.get_params()
    for param, value in [("batch_size", 0), ("dropout", 1.5), ("class_weight", "even")]:
        est.set_params(**{param: value})
        with pytest.raises(ValueError, match=f"'{param}' parameter of FeedForwardTuner"):
            est.partial_fit(X, y)
        est.set_params(**params)
    assert est.n_iter_ == 1
    np.testing.assert_array_equal(est.transform(X), out)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_progress_bar_names_the_estimator_the_user_ran(tuner, blobs, capsys):
    """ContrastiveTuner trains a ContrastiveLearner inside: its bar still says ContrastiveTuner."""
    X, y = blobs
    est = clone(tuner).set_params(verbose=True, n_epochs=2).fit(X, y)
    bar = capsys.readouterr().err
    assert f"{type(tuner).__name__}:" in bar
    assert "Learner" not in bar
    learner = getattr(est, "learner_", None)  # the label was for the call: not kept
    assert learner is None or "_progress_label" not in vars(learner)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_loss_decreases(tuner, blobs):
    X, y = blobs
    est = clone(tuner).set_params(n_epochs=30, learning_rate=1e-2).fit(X, y)
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def _separation(Z, y):
    """Mean distance between class centroids over mean distance of a row to its centroid."""
    classes, codes = np.unique(y, return_inverse=True)
    centroids = np.stack([Z[codes == c].mean(0) for c in range(len(classes))])
    own = np.linalg.norm(Z - centroids[codes], axis=1).mean()
    between = np.linalg.norm(centroids[:, None] - centroids[None], axis=2)
    return between[np.triu_indices(len(classes), 1)].mean() / own


def _cosine_gap(Z, labels):
    """Mean cosine of rows with the same label minus that of rows with different labels."""
    Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    same = labels[:, None] == labels[None]
    cos = Z @ Z.T
    return cos[same].mean() - cos[~same].mean()


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_tuning_separates_classes(tuner):
    # overlapping classes, and the tuned part alone: an untrained network (a learning rate
    # of ~0) only maps the overlap on, so the gain over it is what training added
    gen = np.random.default_rng(7)
    y = np.repeat(np.array(["alpha", "beta", "gamma"]), 60)
    X = (gen.normal(scale=0.7, size=(3, 8))[np.repeat(np.arange(3), 60)]).astype(np.float32)
    X += gen.normal(size=X.shape).astype(np.float32)
    est = clone(tuner).set_params(output="tuned", n_epochs=30, learning_rate=1e-2)
    untrained = clone(est).set_params(n_epochs=1, learning_rate=1e-9).fit(X, y)
    trained = est.fit(X, y)
    before, after = _separation(untrained.transform(X), y), _separation(trained.transform(X), y)
    assert after > 1.5 * before
    assert after > 1.5 * _separation(X, y)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_pickle_and_joblib_round_trip(tuner, blobs, tmp_path):
    X, y = blobs
    est = clone(tuner).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est.transform(X), again.transform(X))
    path = tmp_path / "tuner.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(est.transform(X), loaded.transform(X))
    # the optimiser survives too: training continues identically
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(est.transform(X), loaded.transform(X))


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_pickle_from_another_device_loads_on_cpu(tuner, blobs):
    X, y = blobs
    est = clone(tuner).fit(X, y)
    state = est.__getstate__()
    if "learner_" in state:
        state["learner_"] = copy.copy(state["learner_"])
        inner = state["learner_"].__getstate__()
        inner["device_"] = "cuda:0"
        state["learner_"].__setstate__(inner)
        assert str(state["learner_"].device_) == "cpu"
    else:
        state["device_"] = "cuda:0"
    again = type(est).__new__(type(est))
    again.__setstate__(state)
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_pandas_output_and_feature_names(tuner, blobs):
    X, y = blobs
    est = clone(tuner).set_params(output="tuned").fit(X, y)
    names = est.get_feature_names_out()
    prefix = type(est).__name__.lower()
    assert names.tolist() == [f"{prefix}{i}" for i in range(est.transform(X).shape[1])]
    frame = clone(est).set_output(transform="pandas").fit(X, y).transform(X)
    assert list(frame.columns) == names.tolist()


BAD_X = {
    "nan": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X),
    "inf": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X),
    "1-D": lambda X: X[:, 0],
    "wrong width": lambda X: X[:, :5],
    "empty": lambda X: X[:0],
}


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X_is_clear_and_leaves_fitted_state(tuner, case, blobs):
    X, y = blobs
    est = clone(tuner).fit(X, y)
    before = _state(est)
    out = est.transform(X)
    bad = BAD_X[case](X)
    with pytest.raises(ValueError):
        est.transform(bad)
    with pytest.raises(ValueError):
        est.partial_fit(bad, y[: len(bad)])
    if case != "wrong width":  # a fresh fit may change the width; bad values may not
        with pytest.raises(ValueError):
            est.fit(bad, y[: len(bad)])
    _assert_same_state(before, _state(est))
    np.testing.assert_array_equal(est.transform(X), out)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_bad_y(tuner, blobs):
    X, y = blobs
    est = clone(tuner)
    with pytest.raises(ValueError, match="different lengths"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError, match="one class"):
        est.fit(X, np.full(len(X), "alpha"))
    with pytest.raises(ValueError, match="requires y"):
        est.fit(X, None)
    with pytest.raises(ValueError, match="NaN"):
        est.fit(X, np.where(np.arange(len(X)) == 0, np.nan, 1.0))


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
@pytest.mark.parametrize(
    "param, value",
    [
        ("n_epochs", 0),
        ("batch_size", -1),
        ("learning_rate", 0.0),
        ("hidden_dim", 0),
        ("hidden_dim", None),  # the head's "no hidden layer" would tune nothing
    ],
)
def test_bad_params_fail_at_fit_not_init(tuner, param, value, blobs):
    X, y = blobs
    est = clone(tuner).set_params(**{param: value})  # __init__ / set_params never validate
    with pytest.raises(ValueError, match=param):
        est.fit(X, y)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_multilabel_y(tuner, blobs):
    X, y = blobs
    Y = np.stack([y == "alpha", (y == "alpha") | (y == "beta")], axis=1).astype(int)
    est = clone(tuner).set_params(hidden_dim=32, n_epochs=40, learning_rate=1e-2).fit(X, Y)
    assert est.multi_label_ and est.classes_.tolist() == [0, 1]
    assert est.loss_curve_[-1] < 0.5 * est.loss_curve_[0]
    if isinstance(est, FeedForwardTuner):  # its output layer: one column per label
        assert est.predict_proba(X).shape == (len(X), 2)
        assert (est.predict(X) == Y).mean() > 0.95
    else:  # each label's pairs pull the rows that share it together
        tuned = clone(est).set_params(output="tuned")
        before = clone(tuned).set_params(n_epochs=1, learning_rate=1e-9).fit(X, Y).transform(X)
        after = tuned.fit(X, Y).transform(X)
        for j in range(Y.shape[1]):
            assert _cosine_gap(after, Y[:, j]) > _cosine_gap(before, Y[:, j]) + 0.05
    with pytest.raises(ValueError, match="1-D"):
        est.partial_fit(X, y)


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_multilabel_partial_fit_takes_classes_on_every_call(tuner, blobs):
    # classes= names the label columns: checked on the first call, accepted again later
    X, y = blobs
    Y = np.stack([y == "alpha", y == "beta", y == "gamma"], axis=1).astype(int)
    est = clone(tuner)
    with pytest.raises(ValueError, match="name the 3 label columns"):
        est.partial_fit(X, Y, classes=["a", "b"])
    assert not hasattr(est, "classes_")
    est.partial_fit(X[:60], Y[:60], classes=["a", "b", "c"])
    est.partial_fit(X[60:], Y[60:], classes=["a", "b", "c"])
    assert est.classes_.tolist() == [0, 1, 2] and len(est.loss_curve_) == 2
    with pytest.raises(ValueError, match="name the 3 label columns"):
        est.partial_fit(X, Y, classes=["a", "b", "c", "d"])


def test_contrastive_multilabel_batches_without_a_label_are_skipped_not_an_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype("float32")
    Y = (rng.random((300, 3)) < 0.05).astype(int)  # most rows, and whole batches, unlabelled
    for params in ({"early_stopping": False, "batch_size": 4}, {"early_stopping": True}):
        est = ContrastiveTuner(8, n_epochs=3, random_state=0, **params).fit(X, Y)
        assert np.isfinite(est.loss_curve_).all() and np.isfinite(est.transform(X)).all()
    with pytest.raises(ValueError, match="no positive label in any column"):
        ContrastiveTuner(8).fit(X, np.zeros_like(Y))
    # a later batch with no label at all makes no step: weights and step count unchanged
    est = ContrastiveTuner(8, random_state=0).partial_fit(X, Y)
    weights = [p.detach().clone() for p in est.learner_.module_.parameters()]
    steps = est.learner_.t_
    est.partial_fit(X[:50], np.zeros_like(Y[:50]))
    assert est.learner_.t_ == steps and np.isnan(est.loss_curve_[-1])
    for before, after in zip(weights, est.learner_.module_.parameters(), strict=True):
        assert torch.equal(before, after.detach())
    one = np.zeros_like(Y)
    one[0, 0] = 1  # one labelled row stays in training: the hold-out has nothing to score
    with pytest.raises(ValueError, match="early_stopping=False"):
        ContrastiveTuner(8).fit(X, one)


def test_contrastive_open_labels_refuse_a_second_label_type(blobs):
    X, _ = blobs
    est = ContrastiveTuner(hidden_dim=4, n_epochs=1, random_state=0).partial_fit(X[:10], [1, 2] * 5)
    with pytest.raises(TypeError, match="y holds strings but the labels of the earlier"):
        est.partial_fit(X[:10], ["a", "b"] * 5)
    assert est.classes_.tolist() == [1, 2]
    est.partial_fit(X[:10], [1, 3] * 5)
    assert est.classes_.tolist() == [1, 2, 3]


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_sample_weight(tuner, blobs):
    X, y = blobs
    ones = clone(tuner).fit(X, y, sample_weight=np.ones(len(X))).transform(X)
    plain = clone(tuner).fit(X, y).transform(X)
    np.testing.assert_allclose(ones, plain, rtol=1e-5, atol=1e-6)
    weighted = clone(tuner).fit(X, y, sample_weight=np.linspace(0.1, 3, len(X))).transform(X)
    assert not np.allclose(weighted, plain)
    with pytest.raises(ValueError, match="sample_weight"):
        clone(tuner).fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        clone(tuner).fit(X, y, sample_weight=np.ones(3))


def test_set_params_reaches_the_inner_learner(blobs):
    X, y = blobs
    tuner = ContrastiveTuner(hidden_dim=5, n_epochs=2, random_state=0)
    tuner.set_params(hidden_dim=7, learning_rate=0.05, n_layers=3)  # default n_layers: 2
    tuner.fit(X, y)
    assert tuner.transform(X).shape == (len(X), X.shape[1] + 7)  # output="concat"
    assert tuner.learner_.learning_rate == 0.05
    assert tuner.learner_.n_layers == 3
    assert len(tuner.learner_.module_.layers) == 3


@pytest.mark.parametrize("tuner", TUNERS, ids=IDS)
def test_read_only_input_is_accepted_without_warning(tuner, blobs):
    X, y = blobs
    X = X.copy()
    X.setflags(write=False)
    est = clone(tuner).fit(X, y)  # warnings are errors in the test run
    est.partial_fit(X, y)
    assert est.transform(X).shape[0] == len(X)


def test_balanced_class_weight_on_a_label_matrix():
    # A rare second label: "balanced" weighs its positives by negatives/positives (about 13
    # here), so the network predicts it more often than unweighted; a dict is refused.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 1.5], axis=1).astype(int)
    params = dict(hidden_dim=16, n_epochs=30, early_stopping=False, random_state=0)
    plain = FeedForwardTuner(**params).fit(X, Y)
    balanced = FeedForwardTuner(class_weight="balanced", **params).fit(X, Y)
    negatives, positives = (Y[:, 1] == 0).sum(), Y[:, 1].sum()
    np.testing.assert_allclose(
        balanced._class_weights(Y), [(Y[:, 0] == 0).sum() / Y[:, 0].sum(), negatives / positives]
    )
    rare_plain = plain.predict_proba(X)[:, 1].mean()
    rare_balanced = balanced.predict_proba(X)[:, 1].mean()
    assert rare_balanced > rare_plain + 0.05
    before = balanced.transform(X)
    with pytest.raises(ValueError, match="class_weight"):
        balanced.set_params(class_weight={0: 2.0}).partial_fit(X, Y)
    np.testing.assert_array_equal(balanced.transform(X), before)


def test_set_params_reaches_the_contrastive_learner_in_partial_fit():
    # the tuner kept its learner as built: a new batch_size did nothing (FeedForwardTuner
    # honours it)
    gen = np.random.default_rng(0)
    X = gen.normal(size=(64, 8)).astype(np.float32)
    y = np.repeat(["a", "b"], 32)
    params = dict(hidden_dim=4, n_epochs=1, batch_size=64, early_stopping=False, random_state=0)
    tuner = ContrastiveTuner(**params, device="cpu").fit(X, y)
    steps = tuner.learner_.t_
    tuner.set_params(batch_size=8).partial_fit(X, y)
    assert tuner.learner_.batch_size == 8
    assert tuner.learner_.t_ == steps + 8  # 64 rows in batches of 8
    with pytest.raises(ValueError):  # a refused call leaves the learner's settings as they were
        tuner.set_params(batch_size=16).partial_fit(X[:, :3], y)
    assert tuner.learner_.batch_size == 8


@pytest.mark.parametrize(
    ("make", "change"),
    [
        (lambda: FeedForwardTuner(16, random_state=0), {"hidden_dim": 8}),
        (lambda: FeedForwardTuner(16, random_state=0), {"dropout": 0.1}),
        (lambda: ContrastiveTuner(16, random_state=0), {"hidden_dim": 8}),
        (lambda: ContrastiveTuner(16, random_state=0), {"n_layers": 1}),
        (lambda: DifferentiableHead(random_state=0), {"hidden_dim": 4}),
    ],
    ids=["ff-hidden", "ff-dropout", "ct-hidden", "ct-layers", "head-hidden"],
)
def test_partial_fit_refuses_settings_that_ask_for_another_network(make, change):
    """set_params between partial_fit calls was silently ignored for the network's shape."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    est = make().partial_fit(X, y, classes=[0, 1])
    out = est.transform if hasattr(est, "transform") else est.predict_proba
    before = out(X)
    est.set_params(**change)
    with pytest.raises(ValueError, match="call fit to build one with the new settings"):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(out(X), before)  # the refused call changed nothing
    est.fit(X, y).partial_fit(X, y)  # fit builds the new network, which partial_fit continues
    est.set_params(learning_rate=1e-4).partial_fit(X, y)  # allowed: the optimiser keeps its own


def test_partial_fit_accepts_settings_a_single_layer_does_not_use():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    head = DifferentiableHead(random_state=0).partial_fit(X, y, classes=[0, 1])  # one layer
    head.set_params(dropout=0.2, activation="tanh").partial_fit(X, y)
    tuner = FeedForwardTuner(np.int64(16), random_state=0).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"\(hidden_dim 16 -> 8\)"):  # plain numbers
        tuner.set_params(hidden_dim=np.int64(8)).partial_fit(X, y)
    tuner = ContrastiveTuner(16, random_state=0).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="hidden_dim"):  # the tuner's own argument is named
        tuner.set_params(hidden_dim=8).partial_fit(X, y)
    one = ContrastiveTuner(16, n_layers=1, random_state=0).partial_fit(X, y, classes=[0, 1])
    one.set_params(dropout=0.1).partial_fit(X, y)  # one layer: no dropout between layers
    with pytest.raises(ValueError, match="activation"):  # but it ends in its activation
        one.set_params(activation="tanh").partial_fit(X, y)
