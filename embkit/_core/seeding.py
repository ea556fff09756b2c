"""Seeds derived from ``random_state``: one local generator per fit, seeds drawn from it.

Every estimator turns its ``random_state`` into a private :class:`numpy.random.Generator`
with :func:`make_rng` at fit time and draws the seeds of everything random from it
(:func:`draw_seed`, :func:`torch_generator`): global random states are never seeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils import check_random_state

if TYPE_CHECKING:  # pragma: no cover
    import torch

MAX_SEED = 2**63 - 1
"""Exclusive bound of the torch seeds of the numeric estimators and of dropout passes."""

MAX_INT32_SEED = 2**31 - 1
"""Exclusive bound of seeds handed to scikit-learn or ``numpy.random.RandomState`` (which
take seeds below 2**32); the body estimators draw their other torch seeds in this range
too, and keep doing so, so that their fixed-seed results stay as they were."""


def make_rng(random_state: Any) -> np.random.Generator:
    """The private generator of one fit: seeded from ``random_state`` by one draw.

    ``random_state`` is what scikit-learn accepts (None, an int or a ``RandomState``);
    a ``RandomState`` instance advances by one draw.

    Examples
    --------
    >>> make_rng(0).integers(100) == make_rng(0).integers(100)
    np.True_
    """
    return np.random.default_rng(check_random_state(random_state).randint(2**31))


def draw_seed(rng: np.random.Generator, high: int = MAX_SEED) -> int:
    """A seed in ``[0, high)`` drawn from ``rng``.

    Examples
    --------
    >>> 0 <= draw_seed(make_rng(0), MAX_INT32_SEED) < MAX_INT32_SEED
    True
    """
    return int(rng.integers(high))


def torch_generator(
    rng: np.random.Generator, device: Any = None, high: int = MAX_SEED
) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (default CPU) seeded by a draw from ``rng``.

    Examples
    --------
    >>> torch_generator(make_rng(0)).initial_seed() == torch_generator(make_rng(0)).initial_seed()
    True
    """
    import torch

    kwargs = {} if device is None else {"device": device}
    return torch.Generator(**kwargs).manual_seed(draw_seed(rng, high))
