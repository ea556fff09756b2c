"""A fixture that counts the texts reaching the real models (both encoder kinds).

Import it into a test module with ``from _model_calls import model_calls  # noqa: F401``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class ModelCalls:
    """Texts sent to sentence-transformers, and rows run through the Hugging Face model."""

    st_texts: list[str] = field(default_factory=list)
    hf_rows: int = 0

    @property
    def n(self) -> int:
        return len(self.st_texts) + self.hf_rows

    def reset(self) -> None:
        self.st_texts.clear()
        self.hf_rows = 0


@pytest.fixture
def model_calls(monkeypatch):
    """Count model work on the CPU copies of the bundled model (use ``device="cpu"``)."""
    from sentence_transformers import SentenceTransformer

    from embkit._core.models import load_hf_model

    calls = ModelCalls()
    original = SentenceTransformer.encode

    def counting_encode(self, inputs, *args, **kwargs):
        calls.st_texts.extend(inputs)
        return original(self, inputs, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", counting_encode)

    def count_rows(module, args, kwargs):
        calls.hf_rows += int(kwargs["input_ids"].shape[0])

    _, net = load_hf_model("all-MiniLM-L6-v2", "cpu")
    handle = net.register_forward_pre_hook(count_rows, with_kwargs=True)
    yield calls
    handle.remove()
