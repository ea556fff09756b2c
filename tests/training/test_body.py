"""The body trainer base (embkit._training.body): saved state and its restore."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from embkit import FineTuneClassifier, SbertLearner

TEXTS = ["great film", "loved it", "awful film", "hated it"]
LABELS = ["pos", "pos", "neg", "neg"]
SMALL = dict(batch_size=4, max_length=8, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def classifier():
    return FineTuneClassifier(n_epochs=1, **SMALL).fit(TEXTS, LABELS)


@pytest.fixture(scope="module")
def learner():
    return SbertLearner(**SMALL).fit(TEXTS[:2], TEXTS[2:], [1.0, 0.0])


def _restored(est, values, weights):
    new = type(est).__new__(type(est))
    new._set_saved_state(values, weights)
    return new


def test_saved_state_is_plain_values_and_named_cpu_weights(classifier):
    values, weights = classifier._get_saved_state()
    assert sorted(weights) == ["head_", "model_"]
    assert all(t.device.type == "cpu" for sd in weights.values() for t in sd.values())
    assert not any(isinstance(v, (torch.nn.Module, torch.optim.Optimizer)) for v in values.values())
    assert values["model"] == "all-MiniLM-L6-v2" and values["device_"] == "cpu"
    assert values["classes_"].tolist() == ["neg", "pos"] and values["n_iter_"] == 1
    assert "optimizer_" not in values and "model_" not in values
    # the estimator itself is untouched
    assert isinstance(classifier.model_, torch.nn.Module) and hasattr(classifier, "optimizer_")


@pytest.mark.parametrize("name", ["classifier", "learner"])
def test_restore_onto_a_new_instance_equals_unpickling(name, request):
    est = request.getfixturevalue(name)
    values, weights = est._get_saved_state()
    restored = _restored(est, values, weights)
    unpickled = pickle.loads(pickle.dumps(est))
    out = "predict_proba" if name == "classifier" else "transform"
    expected = getattr(est, out)(TEXTS)
    np.testing.assert_array_equal(getattr(restored, out)(TEXTS), expected)
    np.testing.assert_array_equal(getattr(unpickled, out)(TEXTS), expected)
    assert restored.get_params() == est.get_params()
    assert not hasattr(restored, "optimizer_") and restored.device_ == torch.device("cpu")
    # training continues the same way from either: the optimiser is rebuilt identically
    args = (TEXTS, LABELS) if name == "classifier" else (TEXTS[:2], TEXTS[2:], [1.0, 0.0])
    restored.partial_fit(*args)
    unpickled.partial_fit(*args)
    np.testing.assert_array_equal(getattr(restored, out)(TEXTS), getattr(unpickled, out)(TEXTS))
    assert restored.loss_curve_ == unpickled.loss_curve_ and len(restored.loss_curve_) == 2


def test_weights_that_do_not_fit_are_a_clear_value_error(classifier):
    values, weights = classifier._get_saved_state()
    wrong_shape = dict(
        weights, head_={k: torch.zeros(3, *v.shape[1:]) for k, v in weights["head_"].items()}
    )
    with pytest.raises(ValueError, match="weights do not fit the FineTuneClassifier's head_"):
        _restored(classifier, values, wrong_shape)
    with pytest.raises(ValueError, match=r"expected weights for \['model_', 'head_'\]"):
        _restored(classifier, values, {"model_": weights["model_"]})
    missing = dict(weights, head_={"weight": weights["head_"]["weight"]})
    with pytest.raises(ValueError, match="weights do not fit"):
        _restored(classifier, values, missing)


def test_pickles_of_the_earlier_layout_still_load(classifier, learner):
    # earlier releases pickled the weights under "_tuned_state": one state dict, or a tuple
    for est, out in ((classifier, "predict_proba"), (learner, "transform")):
        values, weights = est._get_saved_state()
        parts = tuple(weights[name] for name in type(est)._weight_names)
        state = dict(values, _tuned_state=parts if len(parts) > 1 else parts[0])
        old = type(est).__new__(type(est))
        old.__setstate__(state)
        np.testing.assert_array_equal(getattr(old, out)(TEXTS), getattr(est, out)(TEXTS))


def test_an_unfitted_estimator_saves_no_weights():
    values, weights = FineTuneClassifier(n_epochs=3)._get_saved_state()
    assert weights == {} and values["n_epochs"] == 3
    restored = _restored(FineTuneClassifier(), values, weights)
    assert restored.get_params() == FineTuneClassifier(n_epochs=3).get_params()


@pytest.mark.parametrize("allow, offline", [(None, True), ("1", False)])
def test_the_body_loads_offline_unless_downloads_are_allowed(monkeypatch, allow, offline):
    # the tests run with HF_HUB_OFFLINE=1, which would hide a loader that asks the hub:
    # spy on what the loader is told instead
    import sentence_transformers

    from embkit._training.body import load_body

    calls = []

    class Spy:
        def __init__(self, name, **kwargs):
            calls.append((name, kwargs))
            raise OSError("not in the local cache")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", Spy)
    if allow is None:
        monkeypatch.delenv("EMBKIT_ALLOW_DOWNLOADS", raising=False)
    else:
        monkeypatch.setenv("EMBKIT_ALLOW_DOWNLOADS", allow)
    hint = "EMBKIT_ALLOW_DOWNLOADS=1" if offline else "not in the local cache"
    with pytest.raises(ValueError, match=f"could not load model 'someone/some-model'.*{hint}"):
        load_body("someone/some-model", torch.device("cpu"))
    assert calls == [("someone/some-model", {"device": "cpu", "local_files_only": offline})]
    with pytest.raises(ValueError, match="could not load model"):
        FineTuneClassifier(model="someone/some-model", **SMALL).fit(TEXTS, LABELS)


@pytest.mark.parametrize("name", ["FineTuneClassifier", "SbertLearner"])
def test_texts_longer_than_max_length_warn_at_the_callers_line(name, monkeypatch):
    """As the encoders do: once per model and window, naming both, at the user's line."""
    import warnings

    import embkit
    import embkit._training.tokens as tokens_module

    monkeypatch.setattr(tokens_module, "_TRUNCATION_WARNED", set())
    long = ["a long review " * 5, "another long and angry review " * 3]
    if name == "FineTuneClassifier":
        est = FineTuneClassifier(n_epochs=1, **SMALL)
        calls = [lambda: est.fit(TEXTS + long, LABELS + ["pos", "neg"]), lambda: est.predict(long)]
    else:
        est = SbertLearner(**SMALL)
        calls = [lambda: est.fit(long, TEXTS[:2], [1.0, 0.0]), lambda: est.transform(long)]
    with pytest.warns(
        embkit.TextTruncatedWarning, match="2 of the texts .* 8-token window of 'all-MiniLM-L6-v2'"
    ) as caught:
        calls[0]()
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", embkit.TextTruncatedWarning)
        calls[1]()  # shown once
        est.set_params(max_length=64)
        calls[1]()  # nothing cut at 64 tokens
