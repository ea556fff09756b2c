"""embkit: text embeddings as first-class scikit-learn estimators.

Public names are imported lazily, so ``import embkit`` stays fast and does not import
torch or sentence-transformers until an estimator is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> private module that defines it
_EXPORTS: dict[str, str] = {
    "SentenceEncoder": "embkit.encoders",
    "TransformerEncoder": "embkit.transformer_encoder",
    "StaticEncoder": "embkit.static_encoder",
    "EmbeddingCache": "embkit.cache",
    "CacheDamagedWarning": "embkit.cache",
    "TextTruncatedWarning": "embkit._encoder_base",
    "FeedForwardTuner": "embkit.feedforward",
    "ContrastiveLearner": "embkit.contrastive",
    "ContrastiveTuner": "embkit.contrastive",
    "DifferentiableHead": "embkit.heads",
    "SbertLearner": "embkit.sbert",
    "SbertTuner": "embkit.sbert",
    "FineTuneClassifier": "embkit.finetune",
    "PartialPipeline": "embkit.streaming",
    "make_partial_pipeline": "embkit.streaming",
    "make_pairs": "embkit.pairs",
    "pairs_from_cats": "embkit.pairs",
    "save": "embkit.persistence",
    "load": "embkit.persistence",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover - for static analysis only
    from embkit.contrastive import ContrastiveLearner, ContrastiveTuner  # noqa: F401
    from embkit.encoders import SentenceEncoder  # noqa: F401
    from embkit.feedforward import FeedForwardTuner  # noqa: F401
    from embkit.pairs import make_pairs, pairs_from_cats  # noqa: F401


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'embkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
