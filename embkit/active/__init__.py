"""Active learning on cached embeddings: query strategies, the learner loop, stopping rules.

What lives here:

* ``strategies`` - the strategy base class, random sampling and the uncertainty strategies
  (least confidence, margin, entropy);
* ``diversity`` - strategies over the embedding space alone (greedy core-set, k-means
  centres) and the class-balanced wrapper;
* ``stopping`` - stopping criteria (stabilising predictions on a fixed sample);
* ``learner`` - :class:`ActiveLearner`, the query/teach loop with save and resume;
* ``simulation`` - the loop with gold labels standing in for a person, learning curves,
  their area and their picture.

May import nothing from embkit outside this subpackage (numpy and scikit-learn only;
matplotlib inside the plotting function). The strategies work on any numeric matrix,
usually embeddings read from the cache; encoding is the caller's job.
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
