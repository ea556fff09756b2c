"""The leaf helpers of embkit._core: devices, model names, seeds, text input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embkit._core.device import loadable_device, resolve_device
from embkit._core.models import model_identity, resolve_model
from embkit._core.seeding import MAX_INT32_SEED, draw_seed, make_rng, torch_generator
from embkit._core.validation import check_positive_int, check_texts


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("gpu0")
    assert loadable_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert loadable_device("cuda:0") == torch.device("cpu")


def test_model_names_and_identity():
    assert Path(resolve_model("all-MiniLM-L6-v2")).name == "model"
    assert resolve_model("some-org/some-model") == "some-org/some-model"
    with pytest.raises(TypeError, match="model must be a model name"):
        resolve_model(3)
    identity = model_identity("all-MiniLM-L6-v2")
    assert identity.startswith("blake2b:")
    assert identity == model_identity("sentence-transformers/all-MiniLM-L6-v2")
    assert model_identity("some-org/not-cached-here") == "name:some-org/not-cached-here"


def test_seeds_come_from_a_local_generator():
    assert make_rng(0).integers(100) == make_rng(0).integers(100)
    assert 0 <= draw_seed(make_rng(0), MAX_INT32_SEED) < MAX_INT32_SEED
    a, b = torch_generator(make_rng(0)), torch_generator(make_rng(0))
    assert a.initial_seed() == b.initial_seed()
    assert a.initial_seed() != torch_generator(make_rng(1)).initial_seed()
    state = np.random.RandomState(5)
    make_rng(state)  # a RandomState advances by one draw
    assert state.randint(2**31) == np.random.RandomState(5).randint(2**31, size=2)[1]


def test_check_texts_accepts_sequences_and_refuses_the_rest():
    assert check_texts(("a", "b")) == ["a", "b"]
    assert check_texts(np.array(["a"])) == ["a"]
    with pytest.raises(TypeError, match=r"got a single str; wrap it in a list: \['a'\]"):
        check_texts("a")
    with pytest.raises(TypeError, match=r"texts must be .* got a dict \(a mapping"):
        check_texts({"a": 1}, name="texts")
    with pytest.raises(TypeError, match="which has no order"):
        check_texts({"a"})
    with pytest.raises(TypeError, match="one-shot iterator"):
        check_texts(iter(["a"]))
    with pytest.raises(ValueError, match="X is empty"):
        check_texts([], allow_empty=False)


def test_check_positive_int():
    assert check_positive_int(3, "n") == 3
    with pytest.raises(TypeError, match="n must be an integer >= 1"):
        check_positive_int(True, "n")
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        check_positive_int(0, "n")
