"""scikit-learn's common estimator checks over every numeric embkit estimator.

No expected failures. ``check_param_validation`` (which scikit-learn runs on its own
estimators only) checks that every constructor parameter has a declared constraint and
that a bad value is an error naming the parameter, from ``fit`` and ``partial_fit`` alike.
``batch_size=64`` makes the sample-weight check's data (15 weighted rows standing for 27
repeated ones) one batch per pass; a full-batch pass trains on the canonical rows
(:mod:`embkit._training.full_batch`), where a weight is exactly a repetition, as sklearn's
own check asks. Estimators that take texts or pairs are checked by
tests/test_text_estimators.py.
"""

from __future__ import annotations

import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from embkit import ContrastiveTuner, DifferentiableHead, FeedForwardTuner, KNeighborsTuner

# Cheap constructor arguments: enough training for the checks' accuracy thresholds.
_FEED_FORWARD = FeedForwardTuner(
    hidden_dim=16,
    n_epochs=40,
    batch_size=64,
    learning_rate=1e-2,
    random_state=0,
    early_stopping=False,  # a hold-out would make weighted and repeated rows train apart
)
NUMERIC_ESTIMATORS = [
    _FEED_FORWARD,
    # output="residual" builds a different network (input + a correction that starts at 0)
    clone(_FEED_FORWARD).set_params(output="residual"),
    ContrastiveTuner(hidden_dim=8, n_epochs=5, batch_size=64, random_state=0, early_stopping=False),
    DifferentiableHead(n_epochs=40, batch_size=64, learning_rate=1e-1, random_state=0),
    KNeighborsTuner(n_neighbors=5),
    # small query batches: transform works through the rows in several steps
    KNeighborsTuner(n_neighbors=5, temperature=0.1, output="tuned", batch_size=7),
]


@parametrize_with_checks(NUMERIC_ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", NUMERIC_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_parameter_is_declared_and_validated(estimator):
    check_param_validation(type(estimator).__name__, estimator)
