"""Active learning on embeddings: query strategies, the learner loop, stopping rules.

``strategies`` (base, random, uncertainty), ``diversity`` (core-set, k-means, class-balanced),
``stopping``, ``learner`` (ActiveLearner), ``simulation`` (gold labels answering, learning
curves). May import nothing from embkit outside this subpackage: the strategies work on any
numeric matrix, and encoding is the caller's job.
"""

from __future__ import annotations

from embkit.active.diversity import ClassBalanced, CoreSet, KMeansSampling
from embkit.active.learner import ActiveLearner
from embkit.active.simulation import (
    LearningCurve,
    curve_table,
    learning_curve_area,
    plot_learning_curves,
    simulate,
)
from embkit.active.stopping import StabilizingPredictions
from embkit.active.strategies import (
    EntropySampling,
    LeastConfidence,
    MarginSampling,
    QueryStrategy,
    RandomSampling,
    make_strategy,
)

__all__ = [
    "ActiveLearner",
    "ClassBalanced",
    "CoreSet",
    "EntropySampling",
    "KMeansSampling",
    "LearningCurve",
    "LeastConfidence",
    "MarginSampling",
    "QueryStrategy",
    "RandomSampling",
    "StabilizingPredictions",
    "curve_table",
    "learning_curve_area",
    "make_strategy",
    "plot_learning_curves",
    "simulate",
]
