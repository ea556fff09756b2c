"""PartialPipeline: partial_fit through the steps, errors, Pipeline behaviours, flat memory."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import tracemalloc

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import FunctionTransformer, Normalizer, StandardScaler

from embkit import (
    ContrastiveTuner,
    DifferentiableHead,
    FeedForwardTuner,
    PartialPipeline,
    SentenceEncoder,
    make_partial_pipeline,
)
from embkit.io.datasets import iter_batches
from embkit.streaming.partial_pipeline import is_stateless

TEXTS = [
    "what a wonderful day",
    "I love this film",
    "such a great idea",
    "this makes me happy",
    "a delightful surprise",
    "the best meal ever",
    "what an awful day",
    "I hate this film",
    "such a terrible idea",
    "this makes me sad",
    "a horrible shock",
    "the worst meal ever",
]
LABELS = np.array(["pos"] * 6 + ["neg"] * 6)


class HashEncoder(TransformerMixin, BaseEstimator):
    """A cheap stateless stand-in for a text encoder: BLAKE2b bytes of each text."""

    def __init__(self, width: int = 16) -> None:
        self.width = width

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        out = np.empty((len(X), self.width), dtype=np.float32)
        for i, text in enumerate(X):
            digest = hashlib.blake2b(text.encode(), digest_size=self.width).digest()
            out[i] = np.frombuffer(digest, dtype=np.uint8) / 255.0
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


def _batches(blobs, size=40):
    X, y = blobs
    for start in range(0, len(X), size):
        yield X[start : start + size], y[start : start + size]


def _numeric_pipe():
    return make_partial_pipeline(
        Normalizer(),
        FeedForwardTuner(hidden_dim=5, batch_size=16, random_state=0, device="cpu"),
        SGDClassifier(random_state=0),
    )


def test_partial_fit_equals_the_steps_by_hand(blobs):
    pipe = _numeric_pipe()
    norm, tuner, sgd = (clone(step) for _, step in pipe.steps)
    classes = np.unique(blobs[1])
    for _ in range(3):
        for Xb, yb in _batches(blobs):
            pipe.partial_fit(Xb, yb, classes=classes)
            Xn = norm.transform(Xb)
            tuner.partial_fit(Xn, yb, classes=classes)
            sgd.partial_fit(tuner.transform(Xn), yb, classes=classes)
    X = blobs[0]
    np.testing.assert_array_equal(pipe.predict(X), sgd.predict(tuner.transform(norm.transform(X))))
    assert pipe.named_steps["feedforwardtuner"].n_iter_ == 9
    assert pipe.classes_.tolist() == classes.tolist()


def test_text_pipeline_fits_the_encoder_on_first_use():
    pipe = make_partial_pipeline(
        SentenceEncoder(device="cpu"),
        ContrastiveTuner(hidden_dim=8, batch_size=8, random_state=0, device="cpu"),
        DifferentiableHead(batch_size=8, learning_rate=1e-2, random_state=0, device="cpu"),
    )
    assert not hasattr(pipe[0], "embedding_dim_")
    for _ in range(15):
        pipe.partial_fit(TEXTS[::2], LABELS[::2], classes=["neg", "pos"])
        pipe.partial_fit(TEXTS[1::2], LABELS[1::2])  # later batches may omit classes
    assert pipe[0].embedding_dim_ == 384
    assert pipe.classes_.tolist() == ["neg", "pos"]
    assert pipe.score(TEXTS, LABELS) >= 0.9


def test_classes_reach_only_the_steps_that_take_it(blobs):
    X, y = blobs
    pipe = make_partial_pipeline(StandardScaler(), SGDClassifier(random_state=0))
    pipe.partial_fit(X[:30], y[:30], classes=np.unique(y))  # StandardScaler has no classes
    assert pipe[-1].classes_.tolist() == ["alpha", "beta", "gamma"]
    with pytest.raises(ValueError, match="classes"):
        make_partial_pipeline(StandardScaler(), SGDClassifier()).partial_fit(X, y)


def test_a_step_that_cannot_learn_incrementally_is_named_at_the_first_call(blobs):
    X, y = blobs
    pipe = make_partial_pipeline(
        PCA(2), FeedForwardTuner(hidden_dim=3, random_state=0, device="cpu"), SGDClassifier()
    )
    with pytest.raises(TypeError, match="step 'pca' .*cannot learn incrementally"):
        pipe.partial_fit(X, y, classes=np.unique(y))
    assert not hasattr(pipe[1], "module_")  # nothing was changed before the error
    last = make_partial_pipeline(Normalizer(), LogisticRegression())
    with pytest.raises(TypeError, match="'logisticregression'.*FrozenEstimator"):
        last.partial_fit(X, y)
    assert not hasattr(last[-1], "coef_")


def test_a_step_that_refuses_the_batch_leaves_every_step_as_it_was(blobs):
    # MiniBatchKMeans moves its centres in place; the tuner's weights live in its learner_
    X, y = blobs
    pipe = make_partial_pipeline(
        StandardScaler(),
        MiniBatchKMeans(4, n_init=1, random_state=0),
        ContrastiveTuner(hidden_dim=3, batch_size=16, random_state=0, device="cpu"),
        SGDClassifier(random_state=0),
    ).partial_fit(X, y, classes=np.unique(y))
    out = pipe.decision_function(X)
    seen, centres = pipe[0].n_samples_seen_, pipe[1].cluster_centers_.copy()
    bad_label = np.where(y == "gamma", "delta", y)
    with pytest.raises(ValueError, match="delta"):  # refused by the tuner (third step)
        pipe.partial_fit(X, bad_label)
    with pytest.raises(ValueError, match="sample_weight"):  # refused by the last step
        pipe.partial_fit(X, y, sgdclassifier__sample_weight=np.ones(3))
    assert pipe[0].n_samples_seen_ == seen and pipe[2].learner_.n_iter_ == 1
    np.testing.assert_array_equal(pipe[1].cluster_centers_, centres)
    np.testing.assert_array_equal(pipe.decision_function(X), out)


def test_a_frozen_step_transforms_and_stays_as_it_was(blobs):
    X, y = blobs
    pca = PCA(3, random_state=0).fit(X)
    components = pca.components_.copy()
    pipe = make_partial_pipeline(FrozenEstimator(pca), SGDClassifier(random_state=0))
    pipe.partial_fit(X[:60], y[:60], classes=np.unique(y)).partial_fit(X[60:], y[60:])
    np.testing.assert_array_equal(pipe[0].estimator.components_, components)
    assert pipe[-1].n_features_in_ == 3


def test_a_frozen_step_with_its_own_partial_fit_is_not_trained(blobs):
    # FrozenEstimator passes partial_fit on to what it wraps: it must not be called
    X, y = blobs
    scaler = StandardScaler().fit(X[::3])
    tuner = FeedForwardTuner(4, n_epochs=2, random_state=0).fit(X[::3], y[::3])
    before = (scaler.mean_.copy(), scaler.n_samples_seen_, tuner.n_iter_, tuner.transform(X))
    pipe = make_partial_pipeline(
        FrozenEstimator(scaler), FrozenEstimator(tuner), SGDClassifier(random_state=0)
    )
    pipe.partial_fit(X + 5, y, classes=np.unique(y))
    np.testing.assert_array_equal(scaler.mean_, before[0])
    assert (scaler.n_samples_seen_, tuner.n_iter_) == before[1:3]
    np.testing.assert_array_equal(tuner.transform(X), before[3])
    expected = tuner.transform(scaler.transform(X + 5))
    assert pipe[-1].n_features_in_ == expected.shape[1]


def test_a_frozen_last_step_is_not_trained(blobs):
    X, y = blobs
    clf = SGDClassifier(random_state=0).fit(X, y)
    coef = clf.coef_.copy()
    pipe = make_partial_pipeline(StandardScaler(), FrozenEstimator(clf))
    pipe.partial_fit(X, y, classes=np.unique(y)).partial_fit(X[::-1], y[::-1])
    np.testing.assert_array_equal(clf.coef_, coef)
    assert pipe[0].n_samples_seen_ == 2 * len(X)  # the scaler before it still learns
    np.testing.assert_array_equal(pipe.predict(X), clf.predict(pipe[0].transform(X)))
    frozen_lr = FrozenEstimator(LogisticRegression().fit(X, y))  # no partial_fit: fine too
    make_partial_pipeline(StandardScaler(), frozen_lr).partial_fit(X, y)


def test_stateless_detection():
    assert is_stateless(SentenceEncoder())
    assert is_stateless(HashEncoder())  # requires_fit=False in its tags
    assert is_stateless(FunctionTransformer(np.log1p))
    assert is_stateless(FrozenEstimator(Normalizer()))
    assert not is_stateless(PCA())
    assert not is_stateless(StandardScaler())  # has partial_fit: learns, is not stateless
    assert not is_stateless(object())


def test_passthrough_steps_and_step_params(blobs):
    X, y = blobs
    pipe = PartialPipeline(
        [("skip", "passthrough"), ("none", None), ("sgd", SGDClassifier(random_state=0))]
    )
    weights = np.r_[np.zeros(60), np.ones(60)]
    pipe.partial_fit(X, y, classes=np.unique(y), sgd__sample_weight=weights)
    assert pipe[-1].n_features_in_ == 8
    # the weights reached the classifier: the same as scikit-learn's with them, not without
    direct = SGDClassifier(random_state=0)
    direct.partial_fit(X, y, classes=np.unique(y), sample_weight=weights)
    np.testing.assert_array_equal(pipe[-1].coef_, direct.coef_)
    unweighted = SGDClassifier(random_state=0).partial_fit(X, y, classes=np.unique(y))
    assert not np.array_equal(pipe[-1].coef_, unweighted.coef_)
    with pytest.raises(ValueError, match="'<step>__<argument>'.*'sample_weight'"):
        pipe.partial_fit(X, y, sample_weight=weights)
    with pytest.raises(ValueError, match="'nosuchstep__x'"):
        pipe.partial_fit(X, y, nosuchstep__x=1)


def test_intermediate_step_without_transform_is_an_error(blobs):
    X, y = blobs
    pipe = make_partial_pipeline(SGDClassifier(), SGDClassifier())
    with pytest.raises(TypeError, match="'sgdclassifier-1'.*transform"):
        pipe.partial_fit(X, y, classes=np.unique(y))


def test_partial_fit_after_fit_continues(blobs):
    X, y = blobs
    pipe = _numeric_pipe().fit(X, y)
    n_iter = pipe.named_steps["feedforwardtuner"].n_iter_
    pipe.partial_fit(X[:40], y[:40])
    assert pipe.named_steps["feedforwardtuner"].n_iter_ == n_iter + 1


def test_clone_pickle_and_joblib_round_trips(blobs, tmp_path):
    X, y = blobs
    classes = np.unique(y)
    pipe = _numeric_pipe().partial_fit(X[:60], y[:60], classes=classes)
    fresh = clone(pipe)
    assert type(fresh) is PartialPipeline
    assert not hasattr(fresh.named_steps["feedforwardtuner"], "module_")
    path = tmp_path / "pipe.joblib"
    joblib.dump(pipe, path)
    loaded = joblib.load(path)
    copied = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    # the stream goes on identically after the round trip
    for other in (loaded, copied):
        other.partial_fit(X[60:], y[60:])
    pipe.partial_fit(X[60:], y[60:])
    np.testing.assert_allclose(loaded.decision_function(X), pipe.decision_function(X), atol=1e-6)
    np.testing.assert_allclose(copied.decision_function(X), pipe.decision_function(X), atol=1e-6)


def test_usual_pipeline_behaviours(blobs):
    X, y = blobs
    pipe = _numeric_pipe()
    assert [name for name, _ in pipe.steps] == ["normalizer", "feedforwardtuner", "sgdclassifier"]
    assert pipe.get_params()["feedforwardtuner__hidden_dim"] == 5
    pipe.set_params(feedforwardtuner__hidden_dim=4)
    assert pipe.named_steps["feedforwardtuner"].hidden_dim == 4
    assert isinstance(pipe[:2], PartialPipeline)
    search = GridSearchCV(pipe, {"sgdclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
    assert type(search.best_estimator_) is PartialPipeline
    assert search.best_estimator_.predict(X[:3]).shape == (3,)
    pipe.partial_fit(X, y, classes=np.unique(y))
    pipe.named_steps["feedforwardtuner"].set_output(transform="pandas")
    Z = pipe[:2].transform(X)
    # output="concat" (the default): the input's columns, then the tuned ones
    raw = [f"x{i}" for i in range(X.shape[1])]
    assert list(Z.columns) == raw + [f"feedforwardtuner{i}" for i in range(4)]


def _write_jsonl(path, n_rows):
    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "fine", "awful", "great", "meh", "film", "day", "meal"])
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n_rows):
            text = " ".join(rng.choice(words, size=8)) + f" #{i}"
            fh.write(json.dumps({"text": text, "label": ["neg", "pos"][i % 2]}) + "\n")


def _stream_peak(path, batch_size):
    pipe = make_partial_pipeline(
        HashEncoder(),
        FeedForwardTuner(hidden_dim=8, batch_size=64, random_state=0, device="cpu"),
        SGDClassifier(random_state=0),
    )
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    n = 0
    for texts, labels in iter_batches(path, batch_size=batch_size):
        pipe.partial_fit(texts, labels, classes=["neg", "pos"])
        n += len(texts)
    _, peak = tracemalloc.get_traced_memory()
    return n, peak - start


def test_streaming_a_file_keeps_memory_flat(tmp_path):
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _write_jsonl(small, 2_000)
    _write_jsonl(large, 16_000)  # 8x the rows, 8x the batches
    assert large.stat().st_size > 7 * small.stat().st_size
    tracemalloc.start()
    try:
        _stream_peak(small, 250)  # warm-up: imports and one-off allocations
        n_small, peak_small = _stream_peak(small, 250)
        n_large, peak_large = _stream_peak(large, 250)
    finally:
        tracemalloc.stop()
    assert (n_small, n_large) == (2_000, 16_000)
    # the large file alone takes more than the whole small stream's peak
    assert large.stat().st_size > peak_small
    assert peak_large < 1.25 * peak_small + 256 * 1024


def test_a_failure_after_the_last_learner_puts_its_weights_back(blobs):
    # the last learning step is followed by a stateless step that refuses the batch:
    # the learner's weights, not only its counters, must come back (Ctrl-C in a later
    # transform, a SGDClassifier overflow in place, ... are not undone by the step itself)
    X, y = blobs
    refuse = {"now": False}

    def downstream(Z):
        if refuse["now"]:
            raise RuntimeError("downstream refuses")
        return Z

    tuner = FeedForwardTuner(hidden_dim=3, batch_size=16, random_state=0, device="cpu")
    pipe = make_partial_pipeline(tuner, FunctionTransformer(downstream), SGDClassifier())
    pipe.partial_fit(X, y, classes=np.unique(y))
    weights = {k: v.clone() for k, v in tuner.module_.state_dict().items()}
    refuse["now"] = True
    with pytest.raises(RuntimeError, match="downstream refuses"):
        pipe.partial_fit(X, y)
    assert tuner.n_iter_ == 1
    for name, value in tuner.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name


@pytest.mark.parametrize("after", ["passthrough", None, "frozen"])
def test_nothing_transforms_for_skipped_last_steps(blobs, after):
    # a skipped or frozen last step reads nothing: the last learner's transform is not
    # run (it was, on the whole batch, its result thrown away)
    X, y = blobs
    calls = []

    class Spy(FeedForwardTuner):
        def transform(self, X):
            calls.append(len(X))
            return super().transform(X)

    tuner = Spy(hidden_dim=3, batch_size=16, random_state=0, device="cpu")
    last = FrozenEstimator(Normalizer().fit(X)) if after == "frozen" else after
    pipe = make_partial_pipeline(StandardScaler(), tuner, last)
    pipe.partial_fit(X, y, classes=np.unique(y)).partial_fit(X, y)
    assert calls == [] and tuner.n_iter_ == 2


# -- a failed partial_fit puts back what the undo copy used to miss -------------------------
def _failing_batch(pipe, X, y):
    with pytest.raises(ValueError):
        pipe.partial_fit(X, y, sgdclassifier__sample_weight=np.ones(3))  # wrong length


def test_a_failed_batch_puts_back_a_legacy_random_state():
    from sklearn.neural_network import BernoulliRBM

    gen = np.random.default_rng(0)
    X = gen.random((40, 6))
    y = (X[:, 0] > 0.5).astype(int)
    pipe = make_partial_pipeline(
        BernoulliRBM(n_components=3, random_state=0), SGDClassifier(random_state=0)
    ).partial_fit(X, y, classes=[0, 1])
    twin = pickle.loads(pickle.dumps(pipe))
    _failing_batch(pipe, X, y)
    pipe.partial_fit(X, y)
    twin.partial_fit(X, y)
    np.testing.assert_array_equal(pipe[0].components_, twin[0].components_)


def test_a_failed_batch_puts_back_a_nested_pipeline_and_an_mlp():
    from sklearn.neural_network import MLPRegressor

    gen = np.random.default_rng(0)
    X = gen.normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(int)
    inner = make_partial_pipeline(StandardScaler())
    pipe = make_partial_pipeline(inner, SGDClassifier(random_state=0)).partial_fit(
        X, y, classes=[0, 1]
    )
    _failing_batch(pipe, X, y)
    assert inner[0].n_samples_seen_ == 40

    class MLPTransformer(MLPRegressor, TransformerMixin):
        """An MLP trained by partial_fit whose transform is its prediction (a test step)."""

        def transform(self, X):
            return self.predict(X).reshape(len(X), -1)

    mlp = MLPTransformer(hidden_layer_sizes=(5,), random_state=0)
    pipe = make_partial_pipeline(mlp, SGDClassifier(random_state=0))
    pipe.partial_fit(X, y, classes=[0, 1])
    twin = copy.deepcopy(pipe)
    _failing_batch(pipe, X, y)  # the MLP made its pass (weights changed in place) first
    for stream in (pipe, twin):
        stream.partial_fit(X, y)
    mine, theirs = pipe[0].coefs_ + pipe[0].intercepts_, twin[0].coefs_ + twin[0].intercepts_
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_last_step_weights_are_not_copied_for_an_undo(blobs, request):
    # nothing runs after the last step, so the pipeline's copy of its network (on top of
    # the tuner's own) only cost memory: three times the weights of a fine-tuned body
    X, y = blobs
    pipe = make_partial_pipeline(
        StandardScaler(), FeedForwardTuner(hidden_dim=4, random_state=0, device="cpu")
    ).partial_fit(X, y, classes=np.unique(y))
    copies = request.getfixturevalue("module_copies")  # counted from here on
    pipe.partial_fit(X, y)
    assert len(copies) == 1  # the tuner's own undo copy only
    alone = clone(pipe[-1]).partial_fit(X, y, classes=np.unique(y))
    copies.clear()
    alone.partial_fit(X, y)
    assert len(copies) == 1


def test_a_last_step_that_does_not_roll_itself_back_is_put_back(blobs):
    X, y = blobs

    class HalfDone(BaseEstimator):
        """Changes its array in place, then refuses the batch (a scikit-learn-like step)."""

        def partial_fit(self, X, y, classes=None):
            if not hasattr(self, "w_"):
                self.w_ = np.zeros(3)
                return self
            self.w_ += 1
            raise ValueError("refused after a change")

    pipe = make_partial_pipeline(StandardScaler(), HalfDone()).partial_fit(X, y)
    with pytest.raises(ValueError, match="refused after a change"):
        pipe.partial_fit(X, y)
    np.testing.assert_array_equal(pipe[-1].w_, np.zeros(3))
    assert pipe[0].n_samples_seen_ == len(X)
