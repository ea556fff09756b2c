"""The body estimators' fit and partial_fit are all or nothing, as the numeric ones are.

An exception or a KeyboardInterrupt in the middle of training a sentence-transformers body
(``FineTuneClassifier``, ``SbertLearner``, and ``SbertTuner`` through its learner) leaves
the estimator exactly as before the call: weights, optimiser state, random state, counters;
a retried ``partial_fit`` then gives what an uninterrupted stream gives. A tiny random
BERT (tests/_tiny_models.py) keeps each fit well under a second.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from _state import assert_same_state
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from embkit import FineTuneClassifier, SbertLearner, SbertTuner
from embkit._training.body import BodyEstimatorBase

TEXTS = [
    "i feel wonderful today", "this is terrible news", "a quiet afternoon", "happy film",
    "sad film", "good movie", "bad movie", "i love it", "i hate it", "really great",
    "not so good", "very bad", "the film was good", "the movie was bad", "so happy", "so sad",
]  # fmt: skip
LABELS = np.array(["pos", "neg"] * 8)
FAULTS = [RuntimeError("injected fault"), KeyboardInterrupt()]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from _tiny_models import write_tiny_sentence_model

    return str(write_tiny_sentence_model(tmp_path_factory.mktemp("tiny-body")))


def _make(name: str, model: str):
    common = dict(model=model, n_epochs=2, batch_size=4, random_state=0, device="cpu")
    if name == "FineTuneClassifier":
        return FineTuneClassifier(max_length=16, show_progress_bar=False, **common)
    if name == "SbertLearner":
        return SbertLearner(max_length=16, show_progress_bar=False, **common)
    return SbertTuner(n_pairs_per_example=2, show_progress_bar=False, **common)


def _args(name: str, part=slice(None)):
    texts, labels = TEXTS[part], LABELS[part]
    if name == "SbertLearner":  # pairs: each text with the next, similar if same label
        second = texts[1:] + texts[:1]
        sim = (labels == np.roll(labels, -1)).astype("float32")
        return (texts, second, sim)
    return (texts, labels)


class Boom:
    """Patch ``_train_step`` to raise ``error`` at step ``at`` (counted from the patch)."""

    def __init__(self, monkeypatch, at: int, error: BaseException) -> None:
        self.calls = 0
        original = BodyEstimatorBase._train_step

        def step(est, *args, **kwargs):
            self.calls += 1
            if self.calls == at:
                raise error
            return original(est, *args, **kwargs)

        monkeypatch.setattr(BodyEstimatorBase, "_train_step", step)


def _trained(est):
    """The object that holds the body (the tuner's learner, or the estimator itself)."""
    return est.learner_ if isinstance(est, SbertTuner) else est


def _snapshot(est) -> dict:
    """Weights of every trained module, optimiser state, random state and counters."""
    inner = _trained(est)
    snap = {
        name: {k: v.detach().clone() for k, v in getattr(inner, name).state_dict().items()}
        for name in inner._weight_names
    }
    snap["optimizer"] = copy.deepcopy(inner.optimizer_.state_dict())
    snap["rng"] = inner._rng.bit_generator.state
    snap["counters"] = (inner.n_iter_, inner.t_, list(inner.loss_curve_))
    if isinstance(est, SbertTuner):
        snap["tuner_rng"] = est._rng.bit_generator.state
    return snap


NAMES = ["FineTuneClassifier", "SbertLearner", "SbertTuner"]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("name", NAMES)
def test_interrupted_refit_leaves_the_previous_model(name, fault, tiny, monkeypatch):
    est = _make(name, tiny).fit(*_args(name))
    before, inner = _snapshot(est), _trained(est)
    Boom(monkeypatch, at=3, error=fault)  # in the second epoch of the refit
    with pytest.raises(type(fault)):
        est.fit(*_args(name, slice(None, None, -1)))
    assert _trained(est) is inner
    assert_same_state(_snapshot(est), before)
    assert all(not m.training for m in inner._modules())  # back in eval mode


@pytest.mark.parametrize("name", NAMES)
def test_interrupted_first_fit_leaves_it_unfitted(name, tiny, monkeypatch):
    est = _make(name, tiny)
    Boom(monkeypatch, at=2, error=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        est.fit(*_args(name))
    assert vars(est) == vars(_make(name, tiny))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("name", NAMES)
def test_interrupted_partial_fit_rolls_back_and_can_be_retried(name, tiny, monkeypatch):
    """Retrying the failed batch gives exactly what an uninterrupted stream gives."""
    first, second = slice(0, 8), slice(8, None)
    classes = {} if name == "SbertLearner" else {"classes": ["neg", "pos"]}
    clean = _make(name, tiny)
    clean.partial_fit(*_args(name, first), **classes)
    clean.partial_fit(*_args(name, second))

    est = _make(name, tiny)
    est.partial_fit(*_args(name, first), **classes)
    before = _snapshot(est)
    with monkeypatch.context() as patch:
        Boom(patch, at=2, error=KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            est.partial_fit(*_args(name, second))
    assert_same_state(_snapshot(est), before)
    est.partial_fit(*_args(name, second))  # the retry
    assert_same_state(_snapshot(est), _snapshot(clean))


def test_a_clone_of_an_interrupted_estimator_is_unchanged(tiny, monkeypatch):
    est = _make("FineTuneClassifier", tiny).fit(*_args("FineTuneClassifier"))
    Boom(monkeypatch, at=1, error=RuntimeError("injected"))
    with pytest.raises(RuntimeError):
        est.partial_fit(*_args("FineTuneClassifier", slice(0, 8)))
    assert clone(est).get_params() == est.get_params()
    assert est.predict(TEXTS[:2]).shape == (2,)


@pytest.mark.parametrize(
    ("name", "copied"),
    [
        ("FineTuneClassifier", ["Linear", "SentenceTransformer"]),
        ("SbertTuner", ["SentenceTransformer"]),
    ],
)
def test_a_partial_pipeline_does_not_copy_the_body_a_second_time(name, copied, tiny, request):
    """The body rolls itself back, so a PartialPipeline ending in it adds no copy of its
    weights (before, the pipeline's copy was the only one; now it would be a second)."""
    from embkit import make_partial_pipeline

    texts, labels = _args(name, slice(0, 8))
    pipe = make_partial_pipeline(_make(name, tiny))
    pipe.partial_fit(texts, labels, classes=["neg", "pos"])
    copies = request.getfixturevalue("module_copies")  # counted from here on
    pipe.partial_fit(texts, labels)
    in_pipeline = sorted(copies)
    copies.clear()
    alone = _make(name, tiny).partial_fit(texts, labels, classes=["neg", "pos"])
    copies.clear()
    alone.partial_fit(texts, labels)
    assert in_pipeline == sorted(copies) == copied


def _versions(module) -> list[int]:
    """In-place writes bump a tensor's version, even when they write the same values."""
    return [t._version for t in module.state_dict().values()]


@pytest.mark.parametrize("name", ["FineTuneClassifier", "SbertTuner"])
def test_a_model_object_passed_in_is_neither_copied_nor_written_by_the_undo(
    name, tiny, request, monkeypatch
):
    from sentence_transformers import SentenceTransformer

    user = SentenceTransformer(tiny, device="cpu")
    est = _make(name, tiny).set_params(model=user)
    est.partial_fit(*_args(name, slice(0, 8)), classes=["neg", "pos"])
    versions = _versions(user)
    copies = request.getfixturevalue("module_copies")
    est.partial_fit(*_args(name, slice(8, None)))
    assert copies.count("SentenceTransformer") == 1  # the trained body only
    Boom(monkeypatch, at=1, error=RuntimeError("injected"))
    with pytest.raises(RuntimeError):
        est.partial_fit(*_args(name, slice(0, 8)))
    assert _versions(user) == versions
    assert _trained(est).model_ is not user


@pytest.mark.parametrize(
    "setting",
    [{"max_length": 10_000}, {"class_weight": {"unknown": 2.0}}],
    ids=["max_length", "class_weight"],
)
def test_settings_refused_by_a_later_partial_fit_cost_no_copy(setting, tiny, request):
    est = _make("FineTuneClassifier", tiny)
    est.partial_fit(*_args("FineTuneClassifier", slice(0, 8)), classes=["neg", "pos"])
    versions = _versions(est.model_), _versions(est.head_)
    copies = request.getfixturevalue("module_copies")
    est.set_params(**setting)
    with pytest.raises(ValueError, match=next(iter(setting))):
        est.partial_fit(*_args("FineTuneClassifier", slice(8, None)))
    assert copies == []
    assert (_versions(est.model_), _versions(est.head_)) == versions


def test_a_tuner_interrupted_while_sampling_pairs_keeps_its_random_state(tiny, monkeypatch):
    import embkit.tuning.sbert_tuner as sbert_tuner

    clean = _make("SbertTuner", tiny)
    clean.partial_fit(*_args("SbertTuner", slice(0, 8)), classes=["neg", "pos"])
    clean.partial_fit(*_args("SbertTuner", slice(8, None)))
    est = _make("SbertTuner", tiny)
    est.partial_fit(*_args("SbertTuner", slice(0, 8)), classes=["neg", "pos"])
    before = _snapshot(est)
    sample = sbert_tuner.make_grouped_pairs

    def interrupted(*args, **kwargs):
        sample(*args, **kwargs)  # draws from the tuner's generator, then Ctrl-C arrives
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(sbert_tuner, "make_grouped_pairs", interrupted)
        with pytest.raises(KeyboardInterrupt):
            est.partial_fit(*_args("SbertTuner", slice(8, None)))
    assert_same_state(_snapshot(est), before)
    assert "_progress_label" not in vars(est.learner_)
    est.partial_fit(*_args("SbertTuner", slice(8, None)))
    assert_same_state(_snapshot(est), _snapshot(clean))
