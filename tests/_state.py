"""Comparing saved estimator state in tests: nested containers, tensors, arrays, generators."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def assert_same_state(a: Any, b: Any, where: str = "state") -> None:
    """Assert that two snapshots of an estimator's state are equal, naming the first difference.

    Walks dicts, lists and tuples; compares tensors and arrays element by element, numpy
    generators by their state, embkit helper objects (row buffers) by their attributes, and
    anything else with ``==``.
    """
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_state(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (p, q) in enumerate(zip(a, b, strict=True)):
            assert_same_state(p, q, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, np.random.Generator):
        assert a.bit_generator.state == b.bit_generator.state, where
    elif type(a).__module__.startswith("embkit") and hasattr(a, "__dict__"):  # row buffers
        assert type(a) is type(b), where
        assert_same_state(vars(a), vars(b), where)
    else:
        assert a == b, where
