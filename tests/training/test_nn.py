"""The torch building blocks: seeded dropout masks, the residual MLP."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embkit._training.nn import MLP, DropoutNoise, dropout


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


def test_residual_mlp_starts_as_the_identity_and_keeps_the_input_width():
    mlp = MLP(5, 3, hidden_dim=8, dropout=0.5, residual=True)
    mlp.materialize_(torch.device("cpu"), torch.Generator().manual_seed(0))
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(1))
    mlp.train()  # dropout on: the correction is still exactly zero before training
    assert torch.equal(mlp.embed(x, DropoutNoise(0, torch.device("cpu"))), x)
    assert mlp.embed_dim == 5 and mlp(x).shape == (4, 3)
    with torch.no_grad():
        mlp.back.weight.fill_(0.1)
    assert not torch.equal(mlp.embed(x), x)  # the correction is learned, not fixed


def test_residual_and_plain_mlp_draw_the_same_first_layer():
    """Same generator, same first layer: the residual option adds a zero layer, no draws."""
    cpu = torch.device("cpu")
    plain = MLP(5, 3, hidden_dim=8).materialize_(cpu, torch.Generator().manual_seed(0))
    residual = MLP(5, 3, hidden_dim=8, residual=True)
    residual.materialize_(cpu, torch.Generator().manual_seed(0))
    assert plain.back is None and plain.embed_dim == 8
    assert torch.equal(plain.hidden.weight, residual.hidden.weight)
    assert not torch.any(residual.back.weight) and not torch.any(residual.back.bias)
