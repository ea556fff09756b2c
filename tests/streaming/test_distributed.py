"""Dask and Ray: a real 2-process LocalCluster and a local Ray, started and stopped here.

Covers ``dask_ml.wrappers.Incremental`` around embkit's incremental estimators, GridSearchCV
over a text pipeline through the Dask and Ray joblib backends (same best parameters as the
local run), and :func:`embkit.streaming.distributed.encode_bag` loading the model once per worker.
"""

from __future__ import annotations

import logging

import joblib
import numpy as np
import pytest
from _texts import LABELS, TEXTS
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from embkit import (
    ContrastiveTuner,
    DifferentiableHead,
    FeedForwardTuner,
    SentenceEncoder,
    make_partial_pipeline,
)

GRID = {"contrastivetuner__hidden_dim": [1, 4, 16]}


def _text_search(cache, n_jobs=None):
    pipe = make_pipeline(
        SentenceEncoder(cache=cache, device="cpu"),
        # the tuned part alone, so that hidden_dim changes the score (no tie in the grid)
        ContrastiveTuner(n_epochs=3, batch_size=8, random_state=0, device="cpu", output="tuned"),
        LogisticRegression(),
    )
    return GridSearchCV(pipe, GRID, cv=3, n_jobs=n_jobs)


@pytest.fixture(scope="module")
def local_search(tmp_path_factory):
    """The reference: the same grid search run serially in this process."""
    cache = tmp_path_factory.mktemp("shared-cache")
    return cache, _text_search(cache).fit(TEXTS, LABELS)


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.distributed", reason='needs Dask: pip install "embkit[dask]"')
    pytest.importorskip("dask_ml", reason='needs dask-ml: pip install "embkit[dask]"')
    import _worker_probe
    import cloudpickle
    from dask.distributed import Client, LocalCluster

    cloudpickle.register_pickle_by_value(_worker_probe)
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    try:
        assert all(client.run(_worker_probe.install).values())
        yield client
    finally:
        client.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(_worker_probe)


def _probes(client):
    import _worker_probe

    return client.run(_worker_probe.read)


def test_encode_bag_loads_the_model_once_per_worker(dask_client):
    import dask.bag as db

    from embkit.streaming.distributed import encode_bag

    texts = [f"{text} ({i})" for i in range(4) for text in TEXTS]  # 96 distinct texts
    before = _probes(dask_client)
    X = encode_bag(db.from_sequence(texts, npartitions=12), SentenceEncoder(device="cpu"))
    assert X.shape[1] == 384 and X.numblocks == (12, 1)
    got = X.compute()
    expected = SentenceEncoder(device="cpu").fit(texts).transform(texts)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    probes = _probes(dask_client)
    loads = [p["loads"] for p in probes.values()]
    encoded = [p["texts"] - before[w]["texts"] for w, p in probes.items()]
    assert sum(encoded) == len(texts)  # every text once, split over the workers
    assert all(n > 0 for n in encoded), f"a worker got no partition: {probes}"
    assert loads == [1, 1], f"the model must load once per worker process: {probes}"


def test_encode_series_keeps_the_row_order(dask_client):
    import dask.dataframe as dd
    import pandas as pd

    from embkit.streaming.distributed import encode_series

    frame = pd.DataFrame({"text": TEXTS, "label": LABELS})
    texts = dd.from_pandas(frame, npartitions=4)["text"]
    got = encode_series(texts, SentenceEncoder(device="cpu"), width=384).compute()
    expected = SentenceEncoder(device="cpu").fit(TEXTS).transform(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [p["loads"] for p in _probes(dask_client).values()] == [1, 1]


def _tuned(estimator, X):
    """What an estimator (or the first step of a pipeline) outputs for ``X``."""
    first = estimator[0] if hasattr(estimator, "steps") else estimator
    return first.transform(X) if hasattr(first, "transform") else first.predict_proba(X)


@pytest.mark.parametrize(
    "estimator",
    [
        FeedForwardTuner(hidden_dim=3, batch_size=16, random_state=0, device="cpu"),
        DifferentiableHead(batch_size=16, random_state=0, device="cpu"),
        # Incremental scores its estimator, so a tuner with no score method goes in a pipeline
        make_partial_pipeline(
            ContrastiveTuner(hidden_dim=3, batch_size=16, random_state=0, device="cpu"),
            SGDClassifier(random_state=0),
        ),
    ],
    ids=["FeedForwardTuner", "DifferentiableHead", "ContrastiveTuner+SGDClassifier"],
)
def test_incremental_trains_block_by_block(dask_client, estimator, blobs):
    import dask.array as da
    from dask_ml.wrappers import Incremental
    from sklearn.base import clone

    X, y = blobs
    Xd, yd = da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    classes = np.unique(y)
    inc = Incremental(clone(estimator), shuffle_blocks=False).fit(Xd, yd, classes=classes)
    local = clone(estimator)
    for start in range(0, len(X), 30):
        local.partial_fit(X[start : start + 30], y[start : start + 30], classes=classes)
    # float32 outputs (the concat part is rescaled to the input's norm): compare to float32
    # precision, relative as well as absolute
    np.testing.assert_allclose(_tuned(inc.estimator_, X), _tuned(local, X), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(inc.predict(Xd).compute(), local.predict(X))


def test_incremental_text_pipeline_on_a_dask_array_of_strings(dask_client, local_search):
    import dask.array as da
    from dask_ml.wrappers import Incremental

    cache, _ = local_search
    texts = np.array(TEXTS * 2, dtype=object)
    labels = np.r_[LABELS, LABELS]
    order = np.random.default_rng(0).permutation(len(texts))
    Td = da.from_array(texts[order], chunks=12)
    yd = da.from_array(labels[order], chunks=12)
    pipe = make_partial_pipeline(
        SentenceEncoder(cache=cache, device="cpu"),
        ContrastiveTuner(hidden_dim=8, batch_size=12, dropout=0.0, random_state=0, device="cpu"),
        SGDClassifier(random_state=0),
    )
    inc = Incremental(pipe, shuffle_blocks=False)
    for _ in range(6):
        inc.partial_fit(Td, yd, classes=["neg", "pos"])
    assert inc.estimator_.named_steps["contrastivetuner"].learner_.n_iter_ == 24
    # dask-ml's own predict assumes 2-D input; on 1-D texts, map the fitted pipeline
    predicted = Td.map_blocks(inc.estimator_.predict, dtype=object).compute()
    assert np.mean(predicted == labels[order]) >= 0.9


def test_grid_search_on_dask_picks_the_local_best(dask_client, local_search):
    cache, local = local_search
    before = _probes(dask_client)
    with joblib.parallel_config(backend="dask"):
        remote = _text_search(cache, n_jobs=-1).fit(TEXTS, LABELS)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert len(set(local.cv_results_["mean_test_score"])) > 1  # the grid is not a tie
    after = _probes(dask_client)
    # 9 candidate fits, no new model load, and the shared cache spared every encoding
    assert [p["loads"] for p in after.values()] == [1, 1]
    assert [p["texts"] for p in after.values()] == [p["texts"] for p in before.values()]


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason='needs Ray: pip install "embkit[ray]"')
    from ray.util.joblib import register_ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        object_store_memory=100 * 2**20,
    )
    try:
        register_ray()
        yield ray
    finally:
        ray.shutdown()


def test_grid_search_on_ray_picks_the_local_best(ray_session, local_search, tmp_path):
    _, local = local_search
    with joblib.parallel_config(backend="ray"):
        remote = _text_search(tmp_path, n_jobs=2).fit(TEXTS, LABELS)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )


def test_encode_series_of_a_one_column_frame_embeds_its_texts():
    # list() of a DataFrame partition gave its column names: "text" embedded per partition
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    from embkit.streaming.distributed import encode_series

    frame = pd.DataFrame({"text": TEXTS[:6]})
    got = encode_series(
        dd.from_pandas(frame, npartitions=2)[["text"]], SentenceEncoder(device="cpu")
    )
    expected = SentenceEncoder(device="cpu").fit(TEXTS[:6]).transform(TEXTS[:6])
    np.testing.assert_allclose(got.compute(scheduler="synchronous"), expected, atol=1e-5)
    two = dd.from_pandas(pd.DataFrame({"text": TEXTS[:4], "label": LABELS[:4]}), npartitions=1)
    with pytest.raises(TypeError, match="a frame of 2 columns; pick the column"):
        encode_series(two, SentenceEncoder(device="cpu"))  # at once, not on the worker


def test_wrong_inputs_are_named_before_anything_runs():
    db = pytest.importorskip("dask.bag")
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    from embkit.streaming.distributed import encode_bag, encode_series

    with pytest.raises(TypeError, match="bag must be a dask.bag.Bag of texts, got list"):
        encode_bag(TEXTS, SentenceEncoder(), width=384)
    with pytest.raises(TypeError, match="series must be a dask.dataframe Series .* got Series"):
        encode_series(pd.Series(TEXTS), SentenceEncoder(), width=384)
    bag = db.from_sequence(TEXTS, npartitions=2)
    with pytest.raises(TypeError, match="encoder must be an embkit text encoder .* got str"):
        encode_bag(bag, "all-MiniLM-L6-v2", width=384)
    series = dd.from_pandas(pd.DataFrame({"text": TEXTS}), npartitions=2)["text"]
    for lengths in ([6], [6, -1, 0], "66", 12):
        with pytest.raises(ValueError, match="lengths must be True, False or one row count"):
            encode_series(series, SentenceEncoder(), width=384, lengths=lengths)


def test_lengths_give_an_array_of_known_shape():
    db = pytest.importorskip("dask.bag")
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    from embkit.streaming.distributed import encode_bag, encode_series

    encoder = SentenceEncoder(device="cpu")
    bag = db.from_sequence(TEXTS[:5], npartitions=2)
    unknown = encode_bag(bag, encoder, width=384)
    assert np.isnan(unknown.shape[0])
    counted = encode_bag(bag, encoder, width=384, lengths=True)
    assert counted.shape == (5, 384) and len(counted) == 5
    sizes = counted.chunks[0]
    np.testing.assert_array_equal(
        counted.compute(scheduler="synchronous"), unknown.compute(scheduler="synchronous")
    )
    given = encode_bag(bag, encoder, width=384, lengths=list(sizes))
    assert given.chunks[0] == sizes
    frame = dd.from_pandas(pd.DataFrame({"text": TEXTS[:5]}), npartitions=2)
    assert encode_series(frame["text"], encoder, width=384, lengths=True).shape == (5, 384)
    wrong = encode_bag(bag, encoder, width=384, lengths=[sizes[0] + 1, sizes[1] - 1])
    with pytest.raises(ValueError, match="holds .* texts but lengths= says"):
        wrong.compute(scheduler="synchronous")


def test_a_text_that_is_not_a_string_is_named_by_partition_and_index_label():
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    from embkit.streaming.distributed import encode_series

    frame = pd.DataFrame({"text": TEXTS[:9]}, index=range(100, 109)).astype(object)
    frame.loc[107, "text"] = None
    series = dd.from_pandas(frame, npartitions=3, sort=False)["text"]
    X = encode_series(series, SentenceEncoder(device="cpu"), width=384)
    with pytest.raises(TypeError, match=r"partition 2 of the texts .* \(index label 107\)"):
        X.compute(scheduler="synchronous")


@pytest.mark.parametrize("width", [0, -3, 3.7, "384"])
def test_encode_bag_refuses_a_width_that_is_not_a_positive_integer(width):
    db = pytest.importorskip("dask.bag")
    from embkit.streaming.distributed import encode_bag

    with pytest.raises((TypeError, ValueError), match="width must be an integer >= 1"):
        encode_bag(db.from_sequence(["a", "b"], npartitions=1), SentenceEncoder(), width=width)


def test_a_wrong_width_is_named_when_the_blocks_are_computed():
    db = pytest.importorskip("dask.bag")
    from embkit.streaming.distributed import encode_bag

    Z = encode_bag(
        db.from_sequence(["a", "b"], npartitions=1), SentenceEncoder(device="cpu"), width=768
    )
    with pytest.raises(ValueError, match="width=768 but the encoder gives vectors of length 384"):
        Z.compute(scheduler="synchronous")
