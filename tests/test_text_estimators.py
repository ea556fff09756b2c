"""One suite over every estimator that sklearn's common checks cannot run.

scikit-learn's ``parametrize_with_checks`` skips estimators that take strings (the text
encoders, the fine-tuning estimators) and cannot feed pairs (``ContrastiveLearner``), so
this file runs the same properties on them: sklearn's data-free checks, string-input
tags, not-fitted errors, clone, set_params, pickle, empty input, an idempotent fit, and
bad text input at every argument that takes texts (a TypeError/ValueError naming the
argument, with a fitted estimator left exactly as it was). Every estimator declares its
cheap constructor arguments in ``_unit_test_params`` (river's idea).
"""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from _state import assert_same_state
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import embkit
from embkit import (
    ContrastiveLearner,
    EmbeddingCache,
    FineTuneClassifier,
    SbertLearner,
    SbertTuner,
    SentenceEncoder,
    StaticEncoder,
    TransformerEncoder,
)

TEXTS = ["i feel wonderful today", "this is terrible news", "a quiet afternoon", "ok"]
OTHER = ["a happy text", "very bad news", "a good movie", "not so sad"]
LABELS = ["pos", "neg", "pos", "neg"]
SIMILARITY = [1.0, 0.0, 1.0, 0.0]


@dataclass
class Spec:
    """How to fit an estimator and read its output, and which arguments take texts."""

    cls: type
    fit: Any  # (estimator, texts) -> estimator
    output: Any  # (estimator, texts) -> ndarray
    calls: dict[str, Any]  # "method(argument)" -> (estimator, texts) -> anything
    fit_accepts_empty: bool = False
    partial: Any = None  # first partial_fit call, if the estimator has one


def _encoder(cls):
    return Spec(
        cls,
        fit=lambda e, t: e.fit(t),
        output=lambda e, t: e.transform(t),
        calls={"fit(X)": lambda e, t: clone(e).fit(t), "transform(X)": lambda e, t: e.transform(t)},
        fit_accepts_empty=True,
    )


SPECS = {
    "SentenceEncoder": _encoder(SentenceEncoder),
    "TransformerEncoder": _encoder(TransformerEncoder),
    "StaticEncoder": _encoder(StaticEncoder),
    "SbertLearner": Spec(
        SbertLearner,
        fit=lambda e, t: e.fit(t, OTHER, SIMILARITY),
        output=lambda e, t: e.transform(t),
        calls={
            "fit(texts1)": lambda e, t: e.fit(t, OTHER, SIMILARITY),
            "fit(texts2)": lambda e, t: e.fit(TEXTS, t, SIMILARITY),
            "partial_fit(texts1)": lambda e, t: e.partial_fit(t, OTHER, SIMILARITY),
            "partial_fit(texts2)": lambda e, t: e.partial_fit(TEXTS, t, SIMILARITY),
            "transform(texts)": lambda e, t: e.transform(t),
            "predict(texts1)": lambda e, t: e.predict(t, OTHER),
            "predict(texts2)": lambda e, t: e.predict(TEXTS, t),
        },
        partial=lambda e, t: e.partial_fit(t, OTHER, SIMILARITY),
    ),
    "SbertTuner": Spec(
        SbertTuner,
        fit=lambda e, t: e.fit(t, LABELS),
        output=lambda e, t: e.transform(t),
        calls={
            "fit(X)": lambda e, t: e.fit(t, LABELS),
            "partial_fit(X)": lambda e, t: e.partial_fit(t, LABELS),
            "transform(X)": lambda e, t: e.transform(t),
        },
        partial=lambda e, t: e.partial_fit(t, LABELS, classes=["neg", "pos"]),
    ),
    "FineTuneClassifier": Spec(
        FineTuneClassifier,
        fit=lambda e, t: e.fit(t, LABELS),
        output=lambda e, t: e.predict_proba(t),
        calls={
            "fit(X)": lambda e, t: e.fit(t, LABELS),
            "partial_fit(X)": lambda e, t: e.partial_fit(t, LABELS),
            "predict_proba(X)": lambda e, t: e.predict_proba(t),
            "predict(X)": lambda e, t: e.predict(t),
        },
        partial=lambda e, t: e.partial_fit(t, LABELS, classes=["neg", "pos"]),
    ),
}
PAIR_INPUT = {"ContrastiveLearner": ContrastiveLearner}  # data-free checks only


@pytest.fixture(scope="module")
def tiny_static(tmp_path_factory) -> dict[str, str]:
    """StaticEncoder's extra test arguments: a tiny model, distilled once per module."""
    pytest.importorskip("model2vec.distill")
    from _tiny_models import write_tiny_sentence_transformer

    folder = write_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-st"))
    return {"model": str(folder), "cache_dir": str(tmp_path_factory.mktemp("static"))}


@pytest.fixture(scope="module")
def make(request):
    """``make(name)``: a fresh, unfitted estimator with its cheap test arguments."""

    def make(name: str):
        cls = SPECS[name].cls if name in SPECS else PAIR_INPUT[name]
        params = cls._unit_test_params()
        if cls is StaticEncoder:
            params.update(request.getfixturevalue("tiny_static"))
        return cls(**params)

    return make


@pytest.fixture(scope="module")
def fitted(make):
    """``fitted(name)``: one fitted estimator per name, shared by the tests of the module."""
    made: dict[str, Any] = {}

    def get(name: str):
        if name not in made:
            made[name] = SPECS[name].fit(make(name), TEXTS)
        return made[name]

    return get


@pytest.fixture(scope="module")
def continued(make):
    """``continued(name)``: one estimator after a first ``partial_fit`` (with ``classes=``)."""
    made: dict[str, Any] = {}

    def get(name: str):
        if name not in made:
            made[name] = SPECS[name].partial(make(name), TEXTS)
        return made[name]

    return get


def _fingerprint(obj: Any) -> dict[str, Any]:
    """What a call could change, cheaply: a tensor changed in place bumps its version."""
    out: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if isinstance(value, torch.nn.Module):
            out[key] = [(k, t.data_ptr(), t._version) for k, t in value.state_dict().items()]
        elif isinstance(value, torch.optim.Optimizer):
            state = [
                (k, (t.data_ptr(), t._version) if torch.is_tensor(t) else t)
                for per_param in value.state.values()
                for k, t in per_param.items()
            ]
            out[key] = (id(value), state, copy.deepcopy(value.state_dict()["param_groups"]))
        elif isinstance(value, np.random.Generator):
            out[key] = value.bit_generator.state
        elif hasattr(value, "get_params") and hasattr(value, "__dict__"):
            out[key] = _fingerprint(value)
        elif isinstance(value, (np.ndarray, list, tuple, dict, str, int, float, bool, type(None))):
            out[key] = copy.deepcopy(value)
        else:  # tokenizers, devices, shared models: the same object
            out[key] = id(value)
    return out


def _output(name, est, texts=TEXTS):
    return np.asarray(SPECS[name].output(est, texts))


# -------------------------------------------------------------------- the sklearn contract
DATA_FREE_CHECKS = [
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
]


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", [*SPECS, *PAIR_INPUT])
def test_sklearn_data_free_checks(name, check):
    cls = SPECS[name].cls if name in SPECS else PAIR_INPUT[name]
    check(name, cls())  # defaults: nothing is loaded or fitted
    check(name, cls(**cls._unit_test_params()))


@pytest.mark.parametrize("name", SPECS)
def test_tags_declare_string_input(name):
    tags = SPECS[name].cls().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array


@pytest.mark.parametrize("name", SPECS)
def test_not_fitted(name, make):
    est = make(name)
    with pytest.raises(NotFittedError):
        _output(name, est)
    if hasattr(est, "get_feature_names_out"):
        with pytest.raises(NotFittedError):
            est.get_feature_names_out()


@pytest.mark.parametrize("name", SPECS)
def test_clone_of_fitted_is_unfitted_with_the_same_params(name, fitted):
    est = fitted(name)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        _output(name, copy)


@pytest.mark.parametrize("name", SPECS)
def test_set_params_is_init(name, make):
    est = make(name)
    assert est.set_params(batch_size=2) is est and est.batch_size == 2
    assert clone(est).get_params() == est.get_params()
    assert type(est)(**est.get_params()).get_params() == est.get_params()


@pytest.mark.parametrize("name", SPECS)
def test_pickle_round_trip_gives_the_same_output(name, fitted):
    est = fitted(name)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(_output(name, restored), _output(name, est), atol=1e-6)


@pytest.mark.parametrize("name", SPECS)
def test_empty_input(name, fitted, make):
    est = fitted(name)
    out = _output(name, est, [])
    assert out.shape[0] == 0 and out.shape[1] == _output(name, est).shape[1]
    if SPECS[name].fit_accepts_empty:
        assert SPECS[name].fit(make(name), []) is not None
    else:
        before = _fingerprint(est)
        with pytest.raises(ValueError, match=r"\b(X|texts1) is empty"):
            SPECS[name].fit(est, [])
        assert_same_state(_fingerprint(est), before)


@pytest.mark.parametrize("name", SPECS)
def test_fit_is_idempotent_and_returns_self(name, make):
    est = make(name)
    assert SPECS[name].fit(est, TEXTS) is est
    first = _output(name, est)
    assert SPECS[name].fit(est, TEXTS) is est
    np.testing.assert_allclose(_output(name, est), first, atol=1e-6)


# ------------------------------------------------------------------------- text input
def _with(item):
    return [TEXTS[0], item, TEXTS[2], TEXTS[3]]


ACCEPTED = {
    "list": list,
    "tuple": tuple,
    "numpy str": np.array,
    "numpy object": lambda t: np.array(t, dtype=object),
    "pandas Series": lambda t: pd.Series(t, index=[10, 11, 12, 13]),
    "pandas Index": pd.Index,
    "one-column DataFrame": lambda t: pd.DataFrame({"text": t}),
}
# kind -> (value, error, what the message must say besides the argument's name)
REFUSED = {
    "None": (None, TypeError, "got None"),
    "a single str": ("just one text", TypeError, "got a single str; wrap it in a list"),
    "bytes": (b"one text", TypeError, "got a single bytes"),
    "a dict": (dict.fromkeys(TEXTS, 1), TypeError, "a mapping"),
    "a set": (set(TEXTS), TypeError, "no order"),
    "a generator": ((t for t in TEXTS), TypeError, "one-shot iterator"),
    "an iterator": (iter(TEXTS), TypeError, "one-shot iterator"),
    "an int": (42, TypeError, "got int"),
    "a None item": (_with(None), TypeError, "item 1 is NoneType"),
    "an int item": (_with(3), TypeError, "item 1 is int"),
    "a NaN item": (_with(float("nan")), TypeError, "item 1 is NaN"),
    "a pandas NaN": (pd.Series(_with(np.nan), dtype=object), TypeError, "item 1 is NaN"),
    "a bytes item": (_with(b"raw"), TypeError, "item 1 is bytes.*decode"),
    "nested lists": ([[t] for t in TEXTS], TypeError, "item 0 is list.*nested"),
    "a 2-D array": (np.array([TEXTS, OTHER]), ValueError, "must be 1-D"),
    "a 2-column DataFrame": (pd.DataFrame({"a": TEXTS, "b": OTHER}), ValueError, "2 columns"),
    "a lone surrogate": (_with("bad \udcff bytes"), ValueError, "not valid Unicode"),
}
CALLS = [(name, call) for name, spec in SPECS.items() for call in spec.calls]


@pytest.mark.parametrize("kind", ACCEPTED)
@pytest.mark.parametrize("name", SPECS)
def test_accepted_text_containers_give_the_list_output(name, kind, fitted):
    est = fitted(name)
    np.testing.assert_allclose(
        _output(name, est, ACCEPTED[kind](TEXTS)), _output(name, est), atol=1e-6
    )


@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize(("name", "call"), CALLS, ids=[f"{n}.{c}" for n, c in CALLS])
def test_bad_texts_are_refused_naming_the_argument(name, call, kind, fitted, continued):
    # partial_fit continues a stream whose classes were declared on the first call; the
    # estimators are shared by the cases, which the unchanged state below makes safe
    est = continued(name) if call.startswith("partial_fit") else fitted(name)
    value, error, says = REFUSED[kind]
    if kind in ("a generator", "an iterator"):
        value = (t for t in TEXTS) if kind == "a generator" else iter(TEXTS)
    argument = call[call.index("(") + 1 : -1]
    before = _fingerprint(est)
    with pytest.raises(error, match=rf"(^|\b){argument}\b.*{says}|{says}.*\b{argument}\b"):
        SPECS[name].calls[call](est, value)
    assert_same_state(_fingerprint(est), before)  # a failed call changes nothing fitted


@pytest.mark.parametrize("kind", REFUSED)
def test_embedding_cache_refuses_bad_texts(kind, tmp_path):
    cache = EmbeddingCache(tmp_path)
    value, error, says = REFUSED[kind]
    vectors = np.ones((4, 3), dtype="float32")
    for call in (
        lambda t: cache.set_many("ns", t, vectors),
        lambda t: cache.get_many("ns", t, dim=3),
        lambda t: EmbeddingCache.keys("ns", t),
    ):
        if kind in ("a generator", "an iterator"):
            value = (t for t in TEXTS)
        with pytest.raises(error, match=rf"\btexts\b.*{says}|{says}"):
            call(value)
    assert len(cache) == 0
    cache.close()


@pytest.mark.parametrize(
    ("value", "says"),
    [(None, "'text' is null"), (3, "'text' is int"), (["a"], "'text' is list"),
     ({"a": 1}, "'text' is dict")],
)  # fmt: skip
def test_loaders_and_cli_refuse_non_string_texts(value, says, tmp_path, capsys):
    from embkit.cli import main
    from embkit.io.datasets import load, load_texts

    path = tmp_path / "bad.jsonl"
    rows = [{"text": "fine", "label": "a"}, {"text": value, "label": "b"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for reader in (load, load_texts):
        with pytest.raises(ValueError, match=rf"bad.jsonl:2: .*{says}"):
            reader(path)
    assert main(["encode", str(path), "--out", str(tmp_path / "x.npy"), "--quiet"]) == 1
    assert f"bad.jsonl:2: {says}, expected a string" in capsys.readouterr().err
    assert not (tmp_path / "x.npy").exists()


def test_every_text_estimator_is_in_the_suite():
    """A new public estimator that takes texts must join SPECS (or say why not)."""
    takes_texts = set()
    for name in embkit.__all__:
        cls = getattr(embkit, name)
        if not (isinstance(cls, type) and hasattr(cls, "__sklearn_tags__")):
            continue
        try:
            est = cls()
        except TypeError:  # PartialPipeline: its steps take the input, not itself
            continue
        if est.__sklearn_tags__().input_tags.string:
            takes_texts.add(name)
    assert takes_texts == set(SPECS)
