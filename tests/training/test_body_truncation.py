"""The fine-tuning estimators' truncation warning: which model it names, when it is shown.

A tiny random BERT (tests/_tiny_models.py) with ``max_length=8`` keeps each fit well under
a second; "very very ..." is longer than 8 tokens, "good film" is not.
"""

from __future__ import annotations

import shutil
import threading
import warnings

import numpy as np
import pytest

import embkit
import embkit._training.tokens as body_tokens
from embkit import FineTuneClassifier
from embkit._core.truncation import warn_once

TEXTS = ["good film", "bad film", "very " * 12 + "good", "very " * 12 + "bad"]
LABELS = np.array(["pos", "neg", "pos", "neg"])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from _tiny_models import write_tiny_sentence_model

    return str(write_tiny_sentence_model(tmp_path_factory.mktemp("tiny-trunc")))


@pytest.fixture(autouse=True)
def _forget_warnings(monkeypatch):
    monkeypatch.setattr(body_tokens, "_TRUNCATION_WARNED", set())


def _clf(model, **kw):
    kw = dict(n_epochs=1, batch_size=4, max_length=8, random_state=0, device="cpu") | kw
    return FineTuneClassifier(model=model, show_progress_bar=False, **kw)


def _caught(call) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in seen if issubclass(w.category, embkit.TextTruncatedWarning)]


def test_a_warning_made_an_error_raises_every_time_and_changes_nothing(tiny):
    est = _clf(tiny)
    for _ in range(2):  # the first error did not use the warning up
        with warnings.catch_warnings():
            warnings.simplefilter("error", embkit.TextTruncatedWarning)
            with pytest.raises(embkit.TextTruncatedWarning):
                est.fit(TEXTS, LABELS)
        assert not hasattr(est, "model_")
    assert len(_caught(lambda: est.fit(TEXTS, LABELS))) == 1


def test_a_refused_call_does_not_use_the_warning_up(tiny):
    est = _clf(tiny, class_weight={"unknown": 2.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error", embkit.TextTruncatedWarning)
        with pytest.raises(ValueError, match="class_weight"):  # the error the call deserves
            est.fit(TEXTS, LABELS)
    assert len(_caught(lambda: est.set_params(class_weight=None).fit(TEXTS, LABELS))) == 1


def test_a_refit_on_another_model_names_that_model(tiny, tmp_path):
    other = str(shutil.copytree(tiny, tmp_path / "other"))
    est = _clf(tiny)
    assert tiny in _caught(lambda: est.fit(TEXTS, LABELS))[0]
    said = _caught(lambda: est.set_params(model=other).fit(TEXTS, LABELS))
    assert len(said) == 1 and other in said[0]


def test_each_model_object_is_a_model_of_its_own(tiny):
    from sentence_transformers import SentenceTransformer

    first, second = (SentenceTransformer(tiny, device="cpu") for _ in range(2))
    said = _caught(lambda: _clf(first).fit(TEXTS, LABELS))
    assert len(said) == 1 and f"SentenceTransformer at {id(first):#x}" in said[0]
    said = _caught(lambda: _clf(second).fit(TEXTS, LABELS))
    assert len(said) == 1 and f"{id(second):#x}" in said[0]


def test_two_threads_show_the_warning_once():
    warned: set = set()
    counting, release = threading.Event(), threading.Event()

    def slow_count():
        counting.set()
        release.wait(10)
        return 1, 20

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        first = threading.Thread(target=warn_once, args=(warned, "k", slow_count, 8, "m"))
        first.start()
        counting.wait(10)  # the first thread is counting: the second one must wait for it
        second = threading.Thread(target=warn_once, args=(warned, "k", lambda: (1, 20), 8, "m"))
        second.start()
        release.set()
        first.join(10)
        second.join(10)
    assert len([w for w in seen if issubclass(w.category, embkit.TextTruncatedWarning)]) == 1
