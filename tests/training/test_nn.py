"""The torch building blocks: seeded dropout masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embkit._training.nn import DropoutNoise, dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_dropout_mask_drops_p_and_keeps_the_mean(p):
    mask = DropoutNoise(0, torch.device("cpu")).mask((400, 500), p, torch.float32)
    assert mask.shape == (400, 500) and mask.dtype == torch.float32
    values = mask.unique()
    assert len(values) == 2 and values[0] == 0.0
    dropped = float((mask == 0).float().mean())
    assert abs(dropped - p) < 0.005  # 200,000 draws: the spread is about 0.001
    assert abs(float(mask.mean()) - 1.0) < 0.02
    assert float(values[1]) == pytest.approx(1.0 / (1.0 - p), rel=1e-4)


def test_dropout_masks_are_seeded_and_change_between_draws():
    a, b = DropoutNoise(7, torch.device("cpu")), DropoutNoise(7, torch.device("cpu"))
    first = a.mask((64, 33), 0.5, torch.float32)  # an odd size: not a multiple of 4 draws
    assert torch.equal(first, b.mask((64, 33), 0.5, torch.float32))
    assert not torch.equal(first, a.mask((64, 33), 0.5, torch.float32))
    assert not torch.equal(
        first, DropoutNoise(8, torch.device("cpu")).mask((64, 33), 0.5, torch.float32)
    )


def test_dropout_leaves_global_random_state_alone():
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    dropout(torch.ones(10, 10), 0.5, DropoutNoise(0, torch.device("cpu")))
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.random.get_state()[1].tolist() == numpy_state[1].tolist()


def test_dropout_without_noise_or_probability_is_identity():
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    assert dropout(x, 0.0, DropoutNoise(0, torch.device("cpu"))) is x
    assert dropout(x, 0.5, None) is x


def test_dropout_gradient_flows_through_kept_units_only():
    x = torch.ones(50, 40, requires_grad=True)
    out = dropout(x, 0.5, DropoutNoise(3, torch.device("cpu")))
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())  # d(x * mask)/dx = mask = out for x = 1
