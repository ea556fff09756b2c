"""Seeds from ``random_state``: one local generator per fit; global states are never seeded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils import check_random_state

if TYPE_CHECKING:  # pragma: no cover
    import torch

MAX_SEED = 2**63 - 1
"""Exclusive bound of the torch seeds of the numeric estimators and of dropout passes."""

MAX_INT32_SEED = 2**31 - 1
"""Exclusive bound of seeds for scikit-learn and ``RandomState``, and of the body
estimators' torch seeds (their fixed-seed results depend on it)."""

MAX_RANDOM_STATE = 2**32 - 1
"""Largest integer scikit-learn and numpy take as ``random_state`` (the CLI's ``--seed``)."""


def make_rng(random_state: Any) -> np.random.Generator:
    """The private generator of one fit, seeded by one draw from ``random_state``."""
    return np.random.default_rng(check_random_state(random_state).randint(2**31))


def draw_seed(rng: np.random.Generator, high: int = MAX_SEED) -> int:
    """A seed in ``[0, high)`` drawn from ``rng``."""
    return int(rng.integers(high))


def torch_generator(
    rng: np.random.Generator, device: Any = None, high: int = MAX_SEED
) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (default CPU) seeded by a draw from ``rng``."""
    import torch

    kwargs = {} if device is None else {"device": device}
    return torch.Generator(**kwargs).manual_seed(draw_seed(rng, high))
