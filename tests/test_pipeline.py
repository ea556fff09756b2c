"""Tuners inside text pipelines: make_pipeline, GridSearchCV, clone, joblib (real MiniLM)."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from _texts import LABELS, TEXTS
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from embkit import ContrastiveTuner, FeedForwardTuner, SentenceEncoder


@pytest.fixture(scope="module")
def encoder_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("tuner_cls", [FeedForwardTuner, ContrastiveTuner])
def test_text_pipeline_fit_predict_score(tuner_cls, encoder_cache):
    pipe = make_pipeline(
        SentenceEncoder(cache=encoder_cache, device="cpu"),
        tuner_cls(hidden_dim=8, n_epochs=20, batch_size=8, random_state=0),
        LogisticRegression(),
    )
    pipe.fit(TEXTS, LABELS)
    assert set(pipe.predict(["a great and happy film"])) <= {"pos", "neg"}
    assert pipe.predict(["a great and happy film", "a horrible, sad film"]).tolist() == [
        "pos",
        "neg",
    ]
    assert pipe.score(TEXTS, LABELS) > 0.9


def test_grid_search_over_hidden_dim_changes_output_width(encoder_cache):
    pipe = make_pipeline(
        SentenceEncoder(cache=encoder_cache, device="cpu"),
        ContrastiveTuner(n_epochs=3, batch_size=8, random_state=0),
        LogisticRegression(),
    )
    search = GridSearchCV(pipe, {"contrastivetuner__hidden_dim": [3, 7]}, cv=2)
    search.fit(TEXTS, LABELS)
    assert [p["contrastivetuner__hidden_dim"] for p in search.cv_results_["params"]] == [3, 7]
    best = search.best_params_["contrastivetuner__hidden_dim"]
    refitted = search.best_estimator_  # refitted with the chosen width, which reached the tuner
    assert refitted.named_steps["logisticregression"].n_features_in_ == 384 + best
    for width in (3, 7):
        candidate = clone(pipe).set_params(contrastivetuner__hidden_dim=width).fit(TEXTS, LABELS)
        tuner = candidate.named_steps["contrastivetuner"]
        raw = candidate[:1].transform(TEXTS[:2])
        # output="concat" (the default): the raw embedding, then the tuned one
        assert tuner.transform(raw).shape == (2, raw.shape[1] + width)
        assert candidate.named_steps["logisticregression"].n_features_in_ == raw.shape[1] + width


def test_clone_and_joblib_round_trip(encoder_cache, tmp_path):
    pipe = make_pipeline(
        SentenceEncoder(cache=encoder_cache, device="cpu"),
        ContrastiveTuner(hidden_dim=6, n_epochs=3, batch_size=8, random_state=0),
        LogisticRegression(),
    ).fit(TEXTS, LABELS)
    path = tmp_path / "pipe.joblib"
    joblib.dump(pipe, path)
    assert path.stat().st_size < 1_000_000  # the pretrained weights are not in the file
    loaded = joblib.load(path)
    np.testing.assert_allclose(
        loaded.predict_proba(TEXTS), pipe.predict_proba(TEXTS), rtol=1e-5, atol=1e-6
    )
    fresh = clone(pipe)
    assert not hasattr(fresh.named_steps["contrastivetuner"], "learner_")
    fresh.fit(TEXTS, LABELS)
    np.testing.assert_allclose(fresh.predict_proba(TEXTS), pipe.predict_proba(TEXTS), atol=1e-6)


def test_feedforward_tuner_is_a_classifier_on_text(encoder_cache):
    pipe = make_pipeline(
        SentenceEncoder(cache=encoder_cache, device="cpu"),
        FeedForwardTuner(hidden_dim=8, n_epochs=30, batch_size=8, random_state=0),
    ).fit(TEXTS, LABELS)
    proba = pipe.predict_proba(["a great and happy film"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert pipe.classes_.tolist() == ["neg", "pos"]
    assert pipe.predict(["a great and happy film"]).tolist() == ["pos"]
