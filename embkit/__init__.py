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
    "SentenceEncoder": "embkit.encoders.sentence",
    "TransformerEncoder": "embkit.encoders.transformer",
    "StaticEncoder": "embkit.encoders.static",
    "EmbeddingCache": "embkit.io.cache",
    "CacheDamagedWarning": "embkit.io.cache",
    "TextTruncatedWarning": "embkit._core.truncation",
    "FeedForwardTuner": "embkit.tuning.feedforward",
    "KNeighborsTuner": "embkit.tuning.neighbors",
    "ContrastiveLearner": "embkit.tuning.contrastive",
    "ContrastiveTuner": "embkit.tuning.contrastive_tuner",
    "DifferentiableHead": "embkit.heads.differentiable",
    "SbertLearner": "embkit.tuning.sbert",
    "SbertTuner": "embkit.tuning.sbert_tuner",
    "FineTuneClassifier": "embkit.heads.finetune",
    "PartialPipeline": "embkit.streaming.partial_pipeline",
    "make_partial_pipeline": "embkit.streaming.partial_pipeline",
    "make_pairs": "embkit.tuning.pairs",
    "pairs_from_cats": "embkit.tuning.pairs",
    "ActiveLearner": "embkit.active.learner",
    "ClassBalanced": "embkit.active.diversity",
    "CoreSet": "embkit.active.diversity",
    "KMeansSampling": "embkit.active.diversity",
    "EntropySampling": "embkit.active.strategies",
    "LeastConfidence": "embkit.active.strategies",
    "MarginSampling": "embkit.active.strategies",
    "RandomSampling": "embkit.active.strategies",
    "StabilizingPredictions": "embkit.active.stopping",
    "save": "embkit.io.persistence",
    "load": "embkit.io.persistence",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover - for static analysis only
    from embkit._core.truncation import TextTruncatedWarning  # noqa: F401
    from embkit.active.diversity import ClassBalanced, CoreSet, KMeansSampling  # noqa: F401
    from embkit.active.learner import ActiveLearner  # noqa: F401
    from embkit.active.stopping import StabilizingPredictions  # noqa: F401
    from embkit.active.strategies import (  # noqa: F401
        EntropySampling,
        LeastConfidence,
        MarginSampling,
        RandomSampling,
    )
    from embkit.encoders.sentence import SentenceEncoder  # noqa: F401
    from embkit.encoders.static import StaticEncoder  # noqa: F401
    from embkit.encoders.transformer import TransformerEncoder  # noqa: F401
    from embkit.heads.differentiable import DifferentiableHead  # noqa: F401
    from embkit.heads.finetune import FineTuneClassifier  # noqa: F401
    from embkit.io.cache import CacheDamagedWarning, EmbeddingCache  # noqa: F401
    from embkit.io.persistence import load, save  # noqa: F401
    from embkit.streaming.partial_pipeline import PartialPipeline, make_partial_pipeline  # noqa: F401
    from embkit.tuning.contrastive import ContrastiveLearner  # noqa: F401
    from embkit.tuning.contrastive_tuner import ContrastiveTuner  # noqa: F401
    from embkit.tuning.feedforward import FeedForwardTuner  # noqa: F401
    from embkit.tuning.neighbors import KNeighborsTuner  # noqa: F401
    from embkit.tuning.pairs import make_pairs, pairs_from_cats  # noqa: F401
    from embkit.tuning.sbert import SbertLearner  # noqa: F401
    from embkit.tuning.sbert_tuner import SbertTuner  # noqa: F401


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'embkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
