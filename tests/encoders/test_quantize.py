"""SentenceEncoder(quantize="int8"): torchao dynamic int8 on CPU, its own model and cache keys."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from test_encoders import TEXTS

pytest.importorskip("torchao")

from embkit import SentenceEncoder  # noqa: E402
from embkit._core.models import clear_models, load_sentence_transformer  # noqa: E402


@pytest.fixture(scope="module")
def int8():
    return SentenceEncoder(device="cpu", quantize="int8").fit(TEXTS)


@pytest.fixture(scope="module")
def float32():
    return SentenceEncoder(device="cpu").fit(TEXTS)


def test_vectors_stay_close_to_float32(int8, float32):
    Q, F = int8.transform(TEXTS), float32.transform(TEXTS)
    assert Q.shape == F.shape == (4, 384) and Q.dtype == np.float32
    cosine = np.sum(Q * F, axis=1) / np.linalg.norm(Q, axis=1) / np.linalg.norm(F, axis=1)
    assert cosine.mean() > 0.98 and cosine.min() > 0.95
    assert not np.allclose(Q, F, atol=1e-5)  # really quantized


def test_linear_layers_are_quantized_in_a_separate_shared_model(int8, float32):
    import torch

    q, f = int8._loaded(), float32._loaded()
    assert q is not f
    assert q is load_sentence_transformer("all-MiniLM-L6-v2", "cpu", quantize="int8")
    weights = [m.weight for m in q.modules() if isinstance(m, torch.nn.Linear)]
    assert weights and all(type(w) is not torch.nn.Parameter for w in weights)
    float_weights = [m.weight for m in f.modules() if isinstance(m, torch.nn.Linear)]
    assert all(type(w) is torch.nn.Parameter for w in float_weights)  # the float model is intact


def test_quantize_is_part_of_the_cache_key(int8, float32, tmp_path):
    a = clone(float32).set_params(cache=tmp_path).fit(TEXTS)
    b = clone(int8).set_params(cache=tmp_path).fit(TEXTS)
    assert a._cache_namespace() != b._cache_namespace()
    assert "quantize" not in a._cache_namespace()  # float32 keys are unchanged
    np.testing.assert_array_equal(b.transform(TEXTS), int8.transform(TEXTS))
    np.testing.assert_array_equal(a.transform(TEXTS), float32.transform(TEXTS))


def test_no_warnings_from_quantizing():
    clear_models()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SentenceEncoder(device="cpu", quantize="int8").fit(TEXTS).transform(TEXTS[:1])


def test_pickle_holds_the_setting_not_the_weights(int8):
    blob = pickle.dumps(int8)
    assert len(blob) < 5_000
    clear_models()
    again = pickle.loads(blob)
    assert again.quantize == "int8"
    np.testing.assert_allclose(again.transform(TEXTS), int8.transform(TEXTS), atol=1e-6)


@pytest.mark.parametrize("bad", ["int4", "INT8", 8, True])
def test_bad_quantize_fails_at_fit(bad):
    with pytest.raises(ValueError, match=r"'quantize' parameter of \w+ must be a str among"):
        SentenceEncoder(quantize=bad).fit(TEXTS)


def test_only_on_cpu(monkeypatch):
    import torch

    enc = SentenceEncoder(device="cpu", quantize="int8")
    with pytest.raises(ValueError, match="CPU only"):
        enc._load(torch.device("meta"))
