"""ActiveLearner: partial_fit and refit loops, seed sets, stopping, save/resume, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import embkit
from embkit.active import (
    ActiveLearner,
    ClassBalanced,
    KMeansSampling,
    MarginSampling,
    StabilizingPredictions,
    curve_table,
    plot_learning_curves,
    simulate,
)


@pytest.fixture(scope="module")
def data():
    gen = np.random.default_rng(0)
    X = gen.normal(size=(400, 6)).astype(np.float32)
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "pos", "neg")
    y[X[:, 2] > 1.2] = "odd"
    return X, y


def sgd():
    return SGDClassifier(loss="log_loss", random_state=0)


def test_refit_loop(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), budget=60, random_state=0).run(X, y)
    assert learner.update_ == "refit"
    assert learner.labeled_.size == 60 == len(set(learner.labeled_.tolist()))
    assert learner.stop_reason_ == "budget"
    assert [h["n_labeled"] for h in learner.history_] == list(range(10, 61, 10))
    expected = LogisticRegression().fit(X[learner.labeled_], y[learner.labeled_])
    np.testing.assert_allclose(learner.estimator_.coef_, expected.coef_)
    np.testing.assert_array_equal(learner.labels_, y[learner.labeled_])
    assert learner.predict(X).shape == (400,)


def test_partial_fit_loop_is_one_pass_per_batch(data):
    X, y = data
    classes = ["neg", "odd", "pos"]
    learner = ActiveLearner(sgd(), "entropy", classes=classes, budget=50, random_state=0)
    learner.run(X, y)
    assert learner.update_ == "partial_fit"
    # the same batches, replayed by hand: one partial_fit call each, classes on the first
    replay = sgd()
    for start in range(0, 50, 10):
        batch = learner.labeled_[start : start + 10]
        replay.partial_fit(X[batch], y[batch], **({"classes": classes} if start == 0 else {}))
    np.testing.assert_allclose(learner.estimator_.coef_, replay.coef_)
    # a refit would differ: SGD's fit runs many passes over all labels
    refit = sgd().fit(X[learner.labeled_], y[learner.labeled_])
    assert not np.allclose(learner.estimator_.coef_, refit.coef_)


def test_partial_fit_needs_classes(data):
    X, y = data
    assert ActiveLearner(sgd()).start(X).update_ == "refit"  # no classes: refit
    assert ActiveLearner(sgd(), update="refit", classes=["neg", "odd", "pos"]).start(X).update_ == (
        "refit"
    )
    with pytest.raises(ValueError, match="partial_fit and classes"):
        ActiveLearner(LogisticRegression(), update="partial_fit", classes=[0, 1]).start(X)
    with pytest.raises(ValueError, match="partial_fit and classes"):
        ActiveLearner(sgd(), update="partial_fit").start(X)


def test_seeded_end_to_end(data):
    X, y = data

    def run(seed):
        est = ActiveLearner(
            LogisticRegression(),
            ClassBalanced(MarginSampling()),
            initial="kmeans",
            budget=50,
            random_state=seed,
        )
        return est.run(X, y).labeled_

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_seed_set_then_strategy(data):
    X, y = data
    learner = ActiveLearner(
        LogisticRegression(), n_initial=12, batch_size=5, initial="kmeans", random_state=0
    )
    seed = learner.query(X)
    np.testing.assert_array_equal(
        seed,
        KMeansSampling().query(
            X,
            [],
            12,
            random_state=np.random.default_rng(
                np.random.RandomState(0).randint(np.iinfo(np.int32).max)
            ),
        ),
    )
    learner.teach(X, seed, y[seed])
    nxt = learner.query(X)
    assert nxt.size == 5
    expected = MarginSampling().query(X, seed, 5, estimator=learner.estimator_, random_state=0)
    assert set(nxt.tolist()) == set(expected.tolist())  # the strategy, not the seed set


def test_one_class_so_far_waits_for_a_model(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), n_initial=2, random_state=0)
    neg = np.flatnonzero(y == "neg")[:2]
    learner.teach(X, neg, y[neg])
    assert learner.estimator_ is None
    with pytest.raises(ValueError, match="no model yet"):
        learner.predict(X)
    assert learner.query(X).size == 10  # random seeding goes on until a model exists


def test_stabilizing_predictions_stops_early(data):
    X, y = data
    learner = ActiveLearner(
        LogisticRegression(), stopping=[StabilizingPredictions(0.97, window=2)], random_state=0
    ).run(X, y)
    assert learner.stop_reason_ == "StabilizingPredictions"
    assert learner.labeled_.size < 400
    kappas = learner.stopping_[0].agreements_
    assert min(kappas[-2:]) >= 0.97 and len(kappas) == len(learner.history_) - 1
    assert learner.stopping is not None and not hasattr(learner.stopping[0], "sample_")


def test_save_and_resume_equals_an_uninterrupted_run(data, tmp_path):
    X, y = data

    def make():
        return ActiveLearner(
            sgd(),
            "margin",
            classes=["neg", "odd", "pos"],
            initial="coreset",
            budget=70,
            stopping=[StabilizingPredictions(window=5)],
            random_state=7,
        )

    whole = make().run(X, y)
    part = make().run(X, y, max_rounds=3)
    resumed = embkit.load(embkit.save(part, tmp_path / "loop.embkit")).run(X, y)
    np.testing.assert_array_equal(resumed.labeled_, whole.labeled_)
    np.testing.assert_allclose(resumed.estimator_.coef_, whole.estimator_.coef_)
    assert resumed.stopping_[0].agreements_ == whole.stopping_[0].agreements_
    with pytest.raises(ValueError, match="not the pool this learner started on"):
        resumed.query(X[::-1])


def test_skip_and_forget(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), batch_size=3, random_state=0)
    first = learner.query(X)
    learner.teach(X, first, y[first])
    nxt = learner.query(X)
    learner.skip(nxt)
    assert not set(learner.query(X).tolist()) & set(nxt.tolist())
    learner.forget(X, first[-2:])
    assert learner.labeled_.tolist() == first[:-2].tolist()
    expected = LogisticRegression().fit(X[first[:-2]], y[first[:-2]])
    np.testing.assert_allclose(learner.estimator_.coef_, expected.coef_)
    learner.forget(X, nxt[:1])  # forgetting a skip makes the row askable again
    assert nxt[0] not in learner.skipped_


def test_partial_fit_mode_keeps_the_labels_left_after_forget(data):
    # forgetting every row of one class left one class: the next teach must still learn
    # from the rows kept, not from the new rows alone
    X, y = data
    neg, pos = np.flatnonzero(y == "neg"), np.flatnonzero(y == "pos")
    a, b, c = neg[:4], pos[:4], np.concatenate([neg[4:6], pos[4:6]])
    learner = ActiveLearner(
        SGDClassifier(random_state=0), classes=["neg", "pos"], update="partial_fit", random_state=0
    ).start(X)
    learner.teach(X, a, y[a]).teach(X, b, y[b]).forget(X, b)
    learner.teach(X, c, y[c])
    kept = np.concatenate([a, c])
    assert sorted(learner.labeled_.tolist()) == sorted(kept.tolist())
    expected = clone(SGDClassifier(random_state=0)).partial_fit(X[a], y[a], classes=["neg", "pos"])
    expected.partial_fit(X[c], y[c])
    np.testing.assert_allclose(learner.estimator_.coef_, expected.coef_)


@pytest.mark.parametrize(("budget", "reason"), [(None, "pool exhausted"), (12, "budget")])
def test_the_stop_reason_says_what_ran_out(budget, reason):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    learner = ActiveLearner(LogisticRegression(), budget=budget, random_state=0).start(X)
    learner.teach(X, np.arange(11), y[:11])
    assert learner.stop_reason_ is None
    learner.teach(X, [11], y[11:])
    assert learner.stop_reason_ == reason


def test_bad_input_is_a_clear_error_and_changes_nothing(data):
    X, y = data
    with pytest.raises(ValueError, match="budget=401 is larger than the pool"):
        ActiveLearner(LogisticRegression(), budget=401).start(X)
    with pytest.raises(ValueError, match="pool X is empty"):
        ActiveLearner(LogisticRegression()).query(np.empty((0, 6)))
    with pytest.raises(ValueError, match="unknown strategy"):
        ActiveLearner(LogisticRegression(), "best").start(X)
    with pytest.raises(
        TypeError,
        match="'estimator' parameter of ActiveLearner must be an object implementing",
    ):
        ActiveLearner(object()).start(X)
    with pytest.raises(NotFittedError, match="has not started"):
        ActiveLearner(LogisticRegression()).skip([1])
    learner = ActiveLearner(
        LogisticRegression(), classes=["neg", "odd", "pos"], budget=12, random_state=0
    )
    idx = learner.query(X)
    learner.teach(X, idx, y[idx])
    before = (learner.labeled_.copy(), learner.estimator_.coef_.copy())
    with pytest.raises(ValueError, match="label 'maybe' is not among classes"):
        learner.teach(X, [idx[0] + 1 if idx[0] + 1 not in idx else 399], ["maybe"])
    with pytest.raises(ValueError, match="already labelled"):
        learner.teach(X, idx[:1], y[idx[:1]])
    with pytest.raises(ValueError, match="got 2 indices but 1 labels"):
        learner.teach(X, [398, 399], ["neg"])
    with pytest.raises(ValueError, match="exceed the budget of 12"):
        learner.teach(X, [396, 397, 398], ["neg"] * 3)
    with pytest.raises(ValueError, match="n=5 is more than the 2 labels left"):
        learner.query(X, n=5)
    with pytest.raises(ValueError, match="outside the pool"):
        learner.teach(X, [400], ["neg"])
    np.testing.assert_array_equal(learner.labeled_, before[0])
    np.testing.assert_array_equal(learner.estimator_.coef_, before[1])
    picks = learner.query(X)
    learner.teach(X, picks, y[picks])
    with pytest.raises(ValueError, match="budget of 12 labels is spent"):
        learner.query(X)


@pytest.mark.parametrize(
    "stopping", [[5], "stable", StabilizingPredictions(), [LogisticRegression()]]
)
def test_stopping_that_is_no_list_of_criteria_is_refused_at_start(data, stopping):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), stopping=stopping, random_state=0)
    with pytest.raises(TypeError, match="stopping must be a list of stopping criteria"):
        learner.run(X, y)
    assert not hasattr(learner, "labeled_")


@pytest.mark.parametrize("initial", ["margin", MarginSampling()])
def test_an_initial_strategy_that_needs_a_model_is_refused(data, initial):
    X, _ = data  # it used to be replaced by random sampling without a word
    with pytest.raises(ValueError, match="needs a model, but the seed set is chosen before"):
        ActiveLearner(LogisticRegression(), initial=initial).start(X)


def test_nan_and_mixed_type_labels_are_refused_and_change_nothing(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), random_state=0)
    learner.teach(X, [0], y[:1])  # one class: no model yet, so nothing else would object
    with pytest.raises(ValueError, match="None or NaN"):
        learner.teach(X, [1], [np.nan])
    with pytest.raises(TypeError, match="mix strings and numbers"):
        learner.teach(X, [1], [3])
    with pytest.raises(TypeError, match="mix strings and numbers"):
        ActiveLearner(LogisticRegression()).teach(X, [1, 2], ["neg", 1])
    assert learner.labeled_.tolist() == [0] and learner.labels_.tolist() == [y[0]]


def test_sklearn_parameter_contract():
    learner = ActiveLearner(LogisticRegression(), stopping=[StabilizingPredictions()])
    for check in (check_no_attributes_set_in_init, check_get_params_invariance, check_set_params):
        check("ActiveLearner", clone(learner))
    for est in (StabilizingPredictions(), KMeansSampling(), ClassBalanced(MarginSampling())):
        check_parameters_default_constructible(type(est).__name__, est) if not isinstance(
            est, ClassBalanced
        ) else None
        check_no_attributes_set_in_init(type(est).__name__, clone(est))


def test_simulate_scores_every_round(data):
    X, y = data
    curve = simulate(
        LogisticRegression(),
        "margin",
        X[:300],
        y[:300],
        X[300:],
        y[300:],
        budget=50,
        random_state=0,
    )
    assert curve.n_labels == [10, 20, 30, 40, 50]
    assert len(curve.accuracy) == 5
    assert len(curve.query_seconds) == 4  # the seed set is random, then 4 timed queries
    # the last point is the test accuracy of the model the same loop ends with
    learner = ActiveLearner(LogisticRegression(), "margin", n_initial=10, batch_size=10,
                            budget=50, random_state=0).run(X[:300], y[:300])  # fmt: skip
    assert curve.accuracy[-1] == learner.estimator_.score(X[300:], y[300:])
    acc = np.asarray(curve.accuracy)  # the area: trapezoids over 10..50, divided by 40
    assert curve.area == pytest.approx(((acc[1:] + acc[:-1]) / 2 * 10).sum() / 40)


def test_simulate_before_a_model_exists_guesses_the_one_label_seen(data):
    """A seed set of one class has no model: the curve scores that label, no NaN, no warning."""
    X, y = data
    X_test, y_test = X[300:], y[300:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "Mean of empty slice" reached the CLI
        curves = [
            simulate(LogisticRegression(), "margin", X[:300], y[:300], X_test, y_test,
                     budget=4, n_initial=1, batch_size=1, random_state=seed)
            for seed in range(3)
        ]  # fmt: skip
        table = curve_table(curves)
        plot_learning_curves(curves)
    for seed, curve in enumerate(curves):
        first = ActiveLearner(LogisticRegression(), n_initial=1, random_state=seed).query(X[:300])
        assert curve.accuracy[0] == np.mean(y_test == y[first[0]])
        assert np.all(np.isfinite(curve.accuracy)) and 0 <= curve.area <= 1
    assert "nan" not in str(table)


@pytest.mark.parametrize(
    ("test_rows", "labels", "budget", "message"),
    [
        (slice(300, 400), slice(300, 305), 50, r"y_test hold one label .* \(100, 6\) and \(5,\)"),
        (slice(300, 400), slice(300, 301), 50, r"shapes \(100, 6\) and \(1,\)"),  # broadcast
        (slice(300, 400), slice(300, 400), 10, "budget=10 must be larger than n_initial=10"),
        (slice(300, 300), slice(300, 300), 50, r"at least one row .* \(0, 6\) and \(0,\)"),
    ],
)
def test_simulate_refuses_a_test_set_that_does_not_fit_and_a_one_point_curve(
    data, test_rows, labels, budget, message
):
    X, y = data
    with pytest.raises(ValueError, match=message):
        simulate(LogisticRegression(), "margin", X[:300], y[:300], X[test_rows], y[labels],
                 budget=budget, random_state=0)  # fmt: skip


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"threshold": 1.5}, r"'threshold' parameter of .* must be a float in the range \[-1"),
        ({"window": 0}, r"'window' parameter of .* must be an int in the range \[1, inf\)"),
        ({"sample_size": 2.5}, r"'sample_size' parameter of .* must be an int in the range"),
    ],
)
def test_stopping_bad_params(data, params, message):
    X, y = data
    clf = LogisticRegression().fit(X[:50], y[:50])
    with pytest.raises(ValueError, match=message):
        StabilizingPredictions(**params).update(clf, X)


def test_stopping_update_refuses_a_pool_that_is_no_2d_array(data):
    X, y = data
    clf, criterion = LogisticRegression().fit(X[:50], y[:50]), StabilizingPredictions()
    with pytest.raises(TypeError, match="X must be a numeric array of embeddings"):
        criterion.update(clf, ["a text"])
    with pytest.raises(ValueError, match=r"X must be 2-d \(n_rows, n_features\)"):
        criterion.update(clf, X[:, 0])
    assert not hasattr(criterion, "sample_")


# -- review findings: all or nothing, budgets raised, forget, class order -------------------
def test_bad_criterion_settings_are_refused_at_start(data):
    X, _ = data
    learner = ActiveLearner(LogisticRegression(), stopping=[StabilizingPredictions(threshold=2)])
    with pytest.raises(ValueError, match="threshold"):
        learner.start(X)


def test_a_criterion_that_fails_leaves_the_learner_as_it_was(data, monkeypatch):
    X, y = data
    learner = ActiveLearner(
        LogisticRegression(), stopping=[StabilizingPredictions()], random_state=0
    ).teach(X, np.arange(20), y[:20])
    before = (learner.labeled_.copy(), len(learner.history_), learner._rng.bit_generator.state)
    agreements = list(learner.stopping_[0].agreements_)

    def broken(self, *args, **kwargs):
        self.agreements_.append(0.5)  # changes its state, then fails
        raise RuntimeError("criterion failed")

    monkeypatch.setattr(StabilizingPredictions, "update", broken)
    with pytest.raises(RuntimeError, match="criterion failed"):
        learner.teach(X, np.arange(20, 30), y[20:30])
    np.testing.assert_array_equal(learner.labeled_, before[0])
    assert len(learner.history_) == before[1]
    assert learner._rng.bit_generator.state == before[2]
    assert learner.stopping_[0].agreements_ == agreements
    monkeypatch.undo()
    learner.teach(X, np.arange(20, 30), y[20:30])  # the same call, now accepted
    assert learner.labeled_.size == 30


def test_run_goes_on_after_the_budget_is_raised(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), budget=20, random_state=0).run(X, y)
    assert learner.stop_reason_ == "budget"
    learner.set_params(budget=40).run(X, y)
    assert learner.labeled_.size == 40 and learner.stop_reason_ == "budget"


@pytest.mark.parametrize(
    ("params", "match"), [({"budget": 10_000}, "budget=10000"), ({"batch_size": 0}, "batch_size")]
)
def test_settings_changed_mid_loop_are_checked_by_the_next_call(data, params, match):
    """Only start() checked them: a budget beyond the pool ran to exhaustion and
    batch_size=0 was taken as 1."""
    X, y = data
    learner = ActiveLearner(LogisticRegression(), budget=20, random_state=0).run(X, y)
    labeled = learner.labeled_.copy()
    learner.set_params(**params)
    for call in (lambda: learner.run(X, y), lambda: learner.query(X)):
        with pytest.raises(ValueError, match=match):
            call()
    np.testing.assert_array_equal(learner.labeled_, labeled)


def test_forget_without_a_label_to_drop_is_no_update(data):
    X, y = data
    learner = ActiveLearner(
        LogisticRegression(), stopping=[StabilizingPredictions(window=2)], random_state=0
    ).teach(X, np.arange(20), y[:20])
    model = learner.estimator_
    learner.skip([150])
    learner.forget(X, [150]).forget(X, [151])
    assert learner.stop_reason_ is None and len(learner.history_) == 1
    assert learner.estimator_ is model and 150 not in learner.skipped_


@pytest.mark.parametrize("kind", ["given", "inferred"])
def test_classes_follow_the_estimator_order(data, kind):
    X, y = data
    if kind == "given":
        learner = ActiveLearner(sgd(), classes=["pos", "odd", "neg", "pos"], random_state=0)
        learner.teach(X, np.arange(30), y[:30])
    else:  # a python str first ("pos", last in order), then numpy strings (array slices)
        first = int(np.flatnonzero(y == "pos")[0])
        rest = np.setdiff1d(np.arange(30), [first])
        learner = ActiveLearner(LogisticRegression(), random_state=0)
        learner.teach(X, [first], ["pos"]).teach(X, rest, [np.str_(v) for v in y[rest]])
    # the columns of predict_proba are in this order: classes_ must name them
    np.testing.assert_array_equal(learner.classes_, learner.estimator_.classes_)


def test_a_class_balanced_seed_strategy_that_needs_a_model_is_refused_at_start(data):
    X, _ = data
    with pytest.raises(ValueError, match="needs a model, but the seed set is chosen before"):
        ActiveLearner(LogisticRegression(), initial="balanced-margin").start(X)
    ActiveLearner(LogisticRegression(), initial=ClassBalanced(KMeansSampling())).start(X)


def test_an_exhausted_pool_without_budget_says_so(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression()).teach(X[:12], np.arange(12), y[:12])
    with pytest.raises(ValueError, match="every row of the pool is labelled"):
        learner.query(X[:12])


def test_simulate_names_a_seed_that_is_not_an_integer(data):
    X, y = data
    with pytest.raises(TypeError, match="random_state must be an integer seed"):
        simulate(LogisticRegression(), "margin", X, y, X, y, budget=30, random_state=None)


def test_a_criterion_without_declared_constraints_is_accepted(data):
    X, y = data

    class Never(BaseEstimator):
        def update(self, estimator, X, random_state=None):
            return False

    learner = ActiveLearner(LogisticRegression(), stopping=[Never()], budget=20, random_state=0)
    assert learner.run(X, y).stop_reason_ == "budget"


def test_a_failed_teach_in_partial_fit_mode_puts_the_model_back(data, monkeypatch):
    # the model had learned the batch while the labels were rolled back: a retry taught it
    # twice
    X, y = data
    learner = ActiveLearner(
        sgd(), classes=np.unique(y), stopping=[StabilizingPredictions()], random_state=0
    ).teach(X, np.arange(20), y[:20])
    assert learner.update_ == "partial_fit"
    coef, steps = learner.estimator_.coef_.copy(), learner.estimator_.t_

    def broken(self, *args, **kwargs):
        raise RuntimeError("criterion failed")

    monkeypatch.setattr(StabilizingPredictions, "update", broken)
    with pytest.raises(RuntimeError):
        learner.teach(X, np.arange(20, 30), y[20:30])
    np.testing.assert_array_equal(learner.estimator_.coef_, coef)
    assert learner.estimator_.t_ == steps


def test_forget_of_skipped_rows_reopens_an_exhausted_pool(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), random_state=0)
    learner.start(X[:12]).skip([10, 11]).teach(X[:12], np.arange(10), y[:10])
    assert learner.stop_reason_ == "pool exhausted"
    learner.forget(X[:12], [11])
    assert learner.stop_reason_ is None
    np.testing.assert_array_equal(learner.query(X[:12]), [11])


@pytest.fixture
def pool_scans(monkeypatch):
    """Records every NaN/inf scan embkit makes of an array shaped like the pool."""
    import sys

    scans: list[str] = []
    shape: list[tuple[int, ...]] = []
    isfinite = np.isfinite

    def spy(x, *args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("embkit") and np.shape(x) in shape:
            scans.append(caller)
        return isfinite(x, *args, **kwargs)

    monkeypatch.setattr(np, "isfinite", spy)
    return scans, shape


def test_run_scans_the_pool_once_a_round(data, pool_scans):
    """The learner (in query and in teach), the strategy and the criterion each scanned
    it: 4 scans a round, 2 more at the start (a 200-label run on 50,000 rows: 21% of it).
    Now teach scans it (after the oracle, which could write into it), and the next round
    once more only after a callback, which could too."""
    X, y = data
    scans, shape = pool_scans
    shape.append(X.shape)
    rounds = []

    def learner():
        return ActiveLearner(
            LogisticRegression(), budget=50, random_state=0,
            stopping=[StabilizingPredictions(sample_size=50)],
        )  # fmt: skip

    quiet = learner().run(X, y)
    assert len(quiet.history_) == 5 and len(scans) == 1 + 5  # run's own check, then teach
    del scans[:]
    learner().run(X, y, callback=lambda active: rounds.append(len(scans)))
    assert rounds == [2, 4, 6, 8, 10]


def test_each_call_scans_the_pool_once(data, pool_scans):
    X, y = data
    scans, shape = pool_scans
    learner = ActiveLearner(
        LogisticRegression(), random_state=0, stopping=[StabilizingPredictions(sample_size=50)]
    ).teach(X, np.arange(20), y[:20])
    shape.append(X.shape)
    idx = learner.query(X)
    assert len(scans) == 1
    learner.teach(X, idx, y[idx])
    assert len(scans) == 2
    learner.forget(X, idx[:3])
    assert len(scans) == 3


def test_an_oracle_that_writes_into_the_pool_is_refused_before_training(data):
    from sklearn.ensemble import HistGradientBoostingClassifier  # takes NaN without a word

    X, y = data
    X = X.copy()

    def oracle(idx):
        X[idx[0], 1] = np.nan
        return y[idx]

    learner = ActiveLearner(HistGradientBoostingClassifier(max_iter=5), random_state=0)
    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        learner.run(X, oracle, max_rounds=1)
    assert not np.isnan(X[learner.labeled_]).any()


def test_a_pool_spoiled_between_rounds_is_still_refused(data):
    """Scanned once a round, not once a run: a callback writing NaN stops the next round."""
    X, y = data
    X = X.copy()
    learner = ActiveLearner(LogisticRegression(), budget=50, random_state=0)

    def spoil(active):
        X[int(np.setdiff1d(np.arange(X.shape[0]), active.labeled_)[-1]), 0] = np.nan

    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        learner.run(X, y, callback=spoil)
    assert learner.labeled_.size == 10
