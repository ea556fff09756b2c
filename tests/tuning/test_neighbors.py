"""KNeighborsTuner: neighbour label shares checked against scikit-learn's nearest neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from sklearn.pipeline import make_pipeline

from embkit import KNeighborsTuner, make_partial_pipeline


def _data(n=80, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)  # unit rows, as sentence embeddings
    y = np.where(X[:, 0] * X[:, 1] > 0, "same", "diff")  # XOR: no linear boundary
    return X, y


def _shares(tuner, X, base):
    """The label shares behind the appended columns, given the base shares of the rows
    that could vote (undo the scale, the log and the division; floored at 0.001)."""
    lift = tuner.set_params(output="tuned").transform(X) / tuner.scale
    return np.exp(lift) * np.maximum(base, 1e-3)


def _frequencies(y, labels):
    return np.array([np.mean(np.asarray(y) == label) for label in labels])


def test_new_rows_get_the_label_shares_of_sklearn_neighbours():
    X, y = _data()
    Q = _data(30, seed=1)[0]
    tuner = KNeighborsTuner(7, temperature=None).fit(X, y)
    reference = KNeighborsClassifier(7, metric="cosine").fit(X, y).predict_proba(Q)
    base = _frequencies(y, ["diff", "same"])  # a new row: every training row could vote
    np.testing.assert_allclose(_shares(tuner, Q, base), np.maximum(reference, 1e-3), rtol=1e-5)


def test_a_training_row_never_votes_for_itself():
    X, y = _data()
    tuner = KNeighborsTuner(7, temperature=None)
    same = (y == "same").astype(float)
    base = (same.sum() - same) / (len(y) - 1)  # each row's pool: all the others
    shares = _shares(clone(tuner).fit(X, y), X, np.stack([1 - base, base], axis=1))
    # the 8 nearest by cosine include the row itself first; the other 7 vote
    nearest = NearestNeighbors(n_neighbors=8, metric="cosine").fit(X).kneighbors(X)[1]
    assert np.all(nearest[:, 0] == np.arange(len(X)))
    expected = (y[nearest[:, 1:]] == "same").mean(axis=1)
    np.testing.assert_allclose(shares[:, 1], np.maximum(expected, 1e-3), rtol=1e-5)
    np.testing.assert_array_equal(clone(tuner).fit_transform(X, y), tuner.fit(X, y).transform(X))


def test_leaving_a_row_out_does_not_bias_small_data():
    # pure noise, and a neighbourhood as large as the data: every training row's vote is
    # the whole rest of the data. Its share of its own label is then below the base rate
    # of the whole data, but exactly the base rate of the rows that could vote: lift 0.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(45, 8)).astype(np.float32)
    y = rng.choice(["a", "b"], 45)
    lift = KNeighborsTuner(output="tuned").fit_transform(X, y)
    np.testing.assert_array_equal(lift, 0.0)  # nothing for a classifier to exploit


def test_identical_rows_do_not_vote_for_each_other():
    X = np.array([[1, 0], [1, 0], [0, 1], [0.9, 0.1], [0.8, 0.2]], dtype=np.float32)
    y = np.array([0, 1, 1, 0, 0])
    tuner = KNeighborsTuner(2, temperature=None).fit(X, y)
    # rows 0 and 1 are the same text: their pool is rows 2-4, their two nearest are 3 and 4
    shares = _shares(tuner, X[:2], [2 / 3, 1 / 3])
    np.testing.assert_allclose(shares, [[1, 1e-3], [1, 1e-3]], rtol=1e-5)


def test_zero_vectors_neither_vote_nor_get_votes():
    X, y = _data(40)
    Q = np.vstack([_data(10, seed=2)[0], -X[:3]])
    with_zeros = KNeighborsTuner(5).fit(np.vstack([X, np.zeros((4, 6))]), np.r_[y, ["same"] * 4])
    np.testing.assert_array_equal(
        with_zeros.transform(Q), KNeighborsTuner(5).fit(X, y).transform(Q)
    )
    zero = with_zeros.set_params(output="tuned").transform(np.zeros((2, 6)))
    np.testing.assert_array_equal(zero, 0.0)


def test_temperature_weights_the_closest_neighbours_more():
    X = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0.5, 0.87]], dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    q = np.array([[0.95, 0.31]], dtype=np.float32)  # closest to row 1 (label 0)
    flat = _shares(KNeighborsTuner(3, temperature=None).fit(X, y), q, [0.5, 0.5])[0]
    sharp = _shares(KNeighborsTuner(3, temperature=0.01).fit(X, y), q, [0.5, 0.5])[0]
    np.testing.assert_allclose(flat, [2 / 3, 1 / 3], rtol=1e-5)
    assert sharp[0] > 0.99  # the nearest neighbour's label dominates


def test_output_width_and_feature_names():
    X, y = _data()
    tuner = KNeighborsTuner(5).fit(X, y)
    names = tuner.get_feature_names_out()
    assert tuner.transform(X).shape == (80, 8) and len(names) == 8
    assert names[:6].tolist() == [f"x{i}" for i in range(6)]
    assert names[6:].tolist() == ["kneighborstuner_diff", "kneighborstuner_same"]
    np.testing.assert_array_equal(tuner.transform(X)[:, :6], X)
    tuned = tuner.set_params(output="tuned")
    assert tuned.transform(X).shape == (80, 2) and len(tuned.get_feature_names_out()) == 2


def test_query_batches_do_not_change_the_result():
    X, y = _data(200)
    whole = KNeighborsTuner(9).fit(X, y).transform(X)
    np.testing.assert_array_equal(KNeighborsTuner(9, batch_size=7).fit(X, y).transform(X), whole)


def _plain_loop(X, T, Q, k, temperature):
    """The appended columns row by row, the rules written out plainly; NaN for a query
    whose k-th and (k+1)-th candidates tie (either may vote)."""
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
    out = np.zeros((len(Q), T.shape[1]))
    for i, q in enumerate(Q):
        if not q.any():
            continue
        cos = unit @ (q / np.linalg.norm(q))
        pool = [j for j in range(len(X)) if X[j].any() and cos[j] < 1 - 1e-5]
        if not pool:
            continue
        ranked = sorted(pool, key=lambda j: -cos[j])
        if len(ranked) > k and abs(cos[ranked[k - 1]] - cos[ranked[k]]) < 1e-6:
            out[i] = np.nan
            continue
        near = ranked[:k]
        w = np.ones(len(near)) if temperature is None else np.exp(cos[near] / temperature)
        share = (w[:, None] * T[near]).sum(axis=0) / w.sum()
        base = T[pool].mean(axis=0)
        out[i] = np.log(np.maximum(share, 1e-3)) - np.log(np.maximum(base, 1e-3))
    return 0.1 * out


@pytest.mark.parametrize("trial", range(12))
def test_matches_a_plain_loop_with_copies_zero_rows_label_matrices_and_weights(trial):
    rng = np.random.default_rng(trial)
    n, d, n_labels = int(rng.integers(8, 60)), int(rng.integers(2, 6)), int(rng.integers(2, 5))
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[rng.random(n) < 0.15] = 0  # zero rows
    X[rng.integers(0, n, n // 4)] = X[rng.integers(0, n, n // 4)]  # copies of other rows
    if trial % 2:  # a 0/1 label matrix
        y = (rng.random((n, n_labels)) < 0.4).astype(int)
        y[0], y[1] = 1, 0  # every label has a 1 and a 0
        T = y.astype(float)
    else:
        y = rng.integers(0, n_labels, n)
        y[:n_labels] = np.arange(n_labels)
        T = np.eye(n_labels)[y]
    k, temperature = int(rng.integers(1, 12)), [None, 0.1, 1.0][trial % 3]
    Q = np.vstack([X, rng.normal(size=(5, d)).astype(np.float32), 3 * X[:2]])  # + scaled copies
    tuner = KNeighborsTuner(k, temperature=temperature, output="tuned", batch_size=5)
    got = tuner.fit(X, y).transform(Q)
    expected = _plain_loop(X.astype(np.float64), T, Q.astype(np.float64), k, temperature)
    clear = ~np.isnan(expected).any(axis=1)
    assert clear.sum() >= len(Q) // 2  # copies tie; most rows are still compared
    np.testing.assert_allclose(got[clear], expected[clear], atol=1e-5)


def test_a_huge_finite_row_keeps_its_direction():
    X = np.array([[3e38, 3e38, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=np.float32)
    tuner = KNeighborsTuner(1).fit(X, ["a", "b", "c", "a"])
    np.testing.assert_allclose(tuner.embeddings_[0], [2**-0.5, 2**-0.5, 0], rtol=1e-6)


def test_names_that_do_not_match_the_fit_are_refused():
    X, y = _data()
    tuner = KNeighborsTuner(5, output="tuned").fit(X, y)
    with pytest.raises(ValueError, match="input_features"):
        tuner.get_feature_names_out([f"z{i}" for i in range(5)])  # 6 inputs


def test_query_blocks_follow_sklearn_working_memory(monkeypatch):
    from sklearn import config_context

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 4)).astype(np.float32)  # about 480 kB per query row
    y = rng.integers(0, 3, len(X))
    tuner = KNeighborsTuner(5).fit(X, y)
    Q = X[:10]
    whole = tuner.transform(Q)
    blocks = []
    log_lift = KNeighborsTuner._log_lift

    def spy(self, queries, *args):
        blocks.append(len(queries))
        return log_lift(self, queries, *args)

    monkeypatch.setattr(KNeighborsTuner, "_log_lift", spy)
    with config_context(working_memory=1):  # 1 MB: two query rows at once
        np.testing.assert_array_equal(tuner.transform(Q), whole)
    assert blocks == [2] * 5
    blocks.clear()
    tuner.transform(Q)  # the default 1024 MB holds all ten
    assert blocks == [10]
    blocks.clear()
    with config_context(working_memory=1):
        tuner.set_params(batch_size=4).transform(Q)  # a set batch_size wins
    assert blocks == [4, 4, 2]


def test_fewer_rows_than_neighbours_and_a_row_with_no_other_neighbour():
    X = np.array([[1, 0], [0, 1], [0.7, 0.7]], dtype=np.float32)
    y = np.array(["a", "b", "b"])
    tuner = KNeighborsTuner(50, temperature=None, output="tuned").fit(X, y)
    new = np.array([[0.9, 0.1]], dtype=np.float32)  # all three vote: the base rate itself
    np.testing.assert_allclose(tuner.transform(new), 0.0, atol=1e-6)
    np.testing.assert_allclose(tuner.transform(X[:1]), 0.0, atol=1e-6)  # its pool: rows 1-2
    near = KNeighborsTuner(1, temperature=None, output="tuned").fit(X, y)
    np.testing.assert_allclose(near.transform(new) / 0.1, [[np.log(3), np.log(1e-3 / (2 / 3))]])
    single = KNeighborsTuner(5).partial_fit(X[:1], ["a"], classes=["a", "b"])
    np.testing.assert_array_equal(single.transform(X[:1])[:, 2:], 0.0)  # no one else votes


def test_multi_label_shares_per_label():
    X, _ = _data()
    Y = np.stack([X[:, 0] > 0, X[:, 2] > 0], axis=1).astype(int)
    tuner = KNeighborsTuner(6, temperature=None, output="tuned").fit(X, Y)
    assert tuner.multi_label_ and tuner.classes_.tolist() == [0, 1]
    Q = _data(10, seed=3)[0]
    nearest = NearestNeighbors(n_neighbors=6, metric="cosine").fit(X).kneighbors(Q)[1]
    expected = Y[nearest].mean(axis=1)
    shares = _shares(tuner, Q, Y.mean(axis=0))
    np.testing.assert_allclose(shares, np.maximum(expected, 1e-3), rtol=1e-5)


def test_partial_fit_in_batches_equals_fit_on_all():
    X, y = _data(90)
    streamed = KNeighborsTuner(5)
    for start in range(0, 90, 30):
        streamed.partial_fit(X[start : start + 30], y[start : start + 30], classes=["diff", "same"])
    np.testing.assert_array_equal(streamed.transform(X), KNeighborsTuner(5).fit(X, y).transform(X))
    assert streamed.embeddings_.shape == (90, 6)


def _streamed(X, y, batch):
    tuner = KNeighborsTuner(5)
    for start in range(0, len(X), batch):
        rows = slice(start, start + batch)
        tuner.partial_fit(X[rows], y[rows], classes=["diff", "same"])
    return tuner


def test_partial_fit_writes_a_batch_after_the_kept_rows_without_copying_them():
    X, y = _data(90)
    tuner = _streamed(X[:60], y[:60], 30)  # the second batch moved the rows to a buffer
    kept, before = tuner.embeddings_, tuner.embeddings_.copy()
    tuner.partial_fit(X[60:70], y[60:70])
    assert np.shares_memory(kept, tuner.embeddings_)  # a copy per batch made streams quadratic
    np.testing.assert_array_equal(kept, before)  # rows already kept never change
    np.testing.assert_array_equal(tuner.transform(X), _streamed(X[:70], y[:70], 70).transform(X))


def test_holders_of_the_same_rows_grow_apart():
    X, y = _data(120)
    tuner = _streamed(X[:60], y[:60], 30)
    twin = KNeighborsTuner.__new__(KNeighborsTuner)
    twin.__dict__.update(tuner.__dict__)  # shares the buffers, as a rollback's saved state does
    assert twin._store is tuner._store
    tuner.partial_fit(X[60:70], y[60:70])
    twin.partial_fit(X[70:90], y[70:90])  # the room after row 60 is taken: twin moves out
    both = np.vstack([X[:60], X[70:90]]), np.concatenate([y[:60], y[70:90]])
    np.testing.assert_array_equal(tuner.transform(X), _streamed(X[:70], y[:70], 70).transform(X))
    twin_out = _streamed(*both, 80).transform(X)
    np.testing.assert_array_equal(twin.transform(X), twin_out)
    tuner.partial_fit(X[90:], y[90:])
    np.testing.assert_array_equal(twin.transform(X), twin_out)


def test_a_pipeline_rolled_back_after_the_tuner_grew_streams_on_correctly():
    X, y = _data(120)
    pipe = make_partial_pipeline(KNeighborsTuner(5), SGDClassifier(random_state=0))
    for start in (0, 30):
        pipe.partial_fit(X[start : start + 30], y[start : start + 30], classes=["diff", "same"])
    with pytest.raises(ValueError):
        pipe.partial_fit(X[60:70], np.r_[y[60:69], "other"])  # the classifier refuses it
    tuner = pipe.steps[0][1]
    assert tuner.embeddings_.shape == (60, 6)
    pipe.partial_fit(X[70:90], y[70:90])
    both = np.vstack([X[:60], X[70:90]]), np.concatenate([y[:60], y[70:90]])
    np.testing.assert_array_equal(tuner.transform(X), _streamed(*both, 80).transform(X))


def test_a_pickle_holds_the_kept_rows_and_no_spare_room():
    import pickle

    X, y = _data(90)
    tuner = _streamed(X, y, 30)
    state = tuner.__getstate__()
    assert "_store" not in state and "_voters" not in state
    assert "_store" in tuner.__dict__  # the state is a copy, not the live attributes
    copy = pickle.loads(pickle.dumps(tuner))
    np.testing.assert_array_equal(copy.transform(X), tuner.transform(X))
    copy.partial_fit(X[:5], y[:5])
    assert copy.embeddings_.shape == (95, 6) and tuner.embeddings_.shape == (90, 6)


def test_partial_fit_without_classes_keeps_the_first_batch_labels_and_refuses_new_ones():
    X, y = _data()
    tuner = KNeighborsTuner(5).partial_fit(X[:40], y[:40])
    before = tuner.transform(X)
    with pytest.raises(ValueError, match="not in classes_"):
        tuner.partial_fit(X[40:42], ["diff", "other"])
    assert tuner.embeddings_.shape == (40, 6)  # the failed call changed nothing
    np.testing.assert_array_equal(tuner.transform(X), before)


def test_bad_input_names_the_argument_and_keeps_the_fitted_state():
    X, y = _data()
    tuner = KNeighborsTuner(5).fit(X, y)
    before = tuner.transform(X)
    with pytest.raises(ValueError, match="6 features"):
        tuner.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="n_neighbors"):
        clone(tuner).set_params(n_neighbors=0).fit(X, y)
    with pytest.raises(ValueError, match="different lengths"):
        clone(tuner).fit(X, y[:-1])
    np.testing.assert_array_equal(tuner.transform(X), before)


def test_neighbour_labels_let_a_linear_model_learn_xor():
    X, y = _data(400)
    plain = cross_val_score(LogisticRegression(), X, y, cv=4).mean()
    pipe = make_pipeline(KNeighborsTuner(15, scale=0.3), LogisticRegression())
    tuned = cross_val_score(pipe, X, y, cv=4)
    assert plain < 0.65 and tuned.mean() > plain + 0.15


def test_grid_search_sweeps_its_parameters():
    X, y = _data(200)
    pipe = make_pipeline(KNeighborsTuner(), LogisticRegression())
    grid = {"kneighborstuner__n_neighbors": [15, 120], "kneighborstuner__scale": [0.01, 0.3]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    # 120 of 133 rows is no neighbourhood; a tiny scale hides the neighbours from the classifier
    assert search.best_params_ == {
        "kneighborstuner__n_neighbors": 15,
        "kneighborstuner__scale": 0.3,
    }
    assert len(search.cv_results_["params"]) == 4


def test_a_streamed_pipeline_learns_what_a_linear_stream_cannot():
    X, y = _data(1200)
    pipe = make_partial_pipeline(KNeighborsTuner(15, scale=0.3), SGDClassifier(random_state=0))
    plain = SGDClassifier(random_state=0)
    for start in range(0, 1000, 100):
        batch = slice(start, start + 100)
        pipe.partial_fit(X[batch], y[batch], classes=["diff", "same"])
        plain.partial_fit(X[batch], y[batch], classes=["diff", "same"])
    assert pipe.named_steps["kneighborstuner"].embeddings_.shape == (1000, 6)
    assert pipe.score(X[1000:], y[1000:]) > plain.score(X[1000:], y[1000:]) + 0.15


def test_a_failed_streamed_batch_leaves_the_kept_rows_as_they_were():
    X, y = _data(120)
    pipe = make_partial_pipeline(KNeighborsTuner(15), SGDClassifier(random_state=0))
    pipe.partial_fit(X[:60], y[:60], classes=["diff", "same"])
    tuner = pipe.named_steps["kneighborstuner"]
    kept = tuner.embeddings_
    assert not kept.flags.writeable  # replaced on every call, never written in place
    with pytest.raises(ValueError, match="sample_weight"):  # the classifier refuses it
        pipe.partial_fit(X[60:], y[60:], sgdclassifier__sample_weight=np.ones(3))
    assert tuner.embeddings_ is kept and tuner.targets_.shape == (60, 2)
    # what transform works out from the kept rows came back with them
    np.testing.assert_array_equal(
        tuner.transform(X), KNeighborsTuner(15).fit(X[:60], y[:60]).transform(X)
    )


def test_a_loaded_tuner_keeps_its_rows_read_only(tmp_path):
    import pickle

    from embkit import load, save

    X, y = _data()
    tuner = KNeighborsTuner(5).fit(X, y)
    for copy in (pickle.loads(pickle.dumps(tuner)), load(save(tuner, tmp_path / "k.embkit"))):
        assert not copy.embeddings_.flags.writeable and not copy.targets_.flags.writeable
        np.testing.assert_array_equal(copy.transform(X), tuner.transform(X))
