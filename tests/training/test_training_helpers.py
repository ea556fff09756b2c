"""Small helpers of embkit._training: rollback, schedule, full-batch rows, checks, pooling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embkit._training.body import seeded_torch
from embkit._training.full_batch import effective_rows, merge_rows
from embkit._training.labels import check_label_types
from embkit._training.nn import pool_tokens
from embkit._training.optim import linear_schedule, make_adamw
from embkit._training.rollback import unchanged_on_error
from embkit._training.torch_base import TrainData, check_sample_weight, check_X, weighted_mean


def test_unchanged_on_error_restores_attributes_and_content():
    class Thing:
        pass

    thing = Thing()
    thing.curve = [1.0]
    thing.rng = np.random.default_rng(0)
    expected = np.random.default_rng(0).random()
    with pytest.raises(KeyboardInterrupt), unchanged_on_error(thing, deep=True):
        thing.curve.append(2.0)
        thing.rng.random()
        thing.n_iter_ = 1
        raise KeyboardInterrupt
    assert thing.curve == [1.0] and not hasattr(thing, "n_iter_")
    assert thing.rng.random() == expected


def test_linear_schedule_warms_up_then_decays():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    schedule = linear_schedule(opt, n_steps=4, warmup_ratio=0.5)
    rates = []
    for _ in range(4):
        rates.append(round(opt.param_groups[0]["lr"], 3))
        opt.step()
        schedule.step()
    assert rates == [0.333, 0.667, 1.0, 0.5]
    layer = torch.nn.Linear(3, 2)
    adamw = make_adamw(layer.parameters(), lr=1e-3, weight_decay=0.0, device=torch.device("cpu"))
    assert adamw.param_groups[0]["lr"] == 1e-3


def test_seeded_torch_is_repeatable_and_restores_the_global_state():
    before = torch.random.get_rng_state()
    with seeded_torch(np.random.default_rng(0), torch.device("cpu")):
        a = torch.rand(1)
    with seeded_torch(np.random.default_rng(0), torch.device("cpu")):
        b = torch.rand(1)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_merge_rows_is_canonical():
    data = TrainData(n=3, X=torch.tensor([[2.0], [1.0], [2.0]]), y=torch.tensor([0, 1, 0]))
    merged = merge_rows(data)
    assert merged.X.ravel().tolist() == [2.0, 1.0]  # byte order
    assert merged.sample_weight.tolist() == [2.0, 1.0]
    shuffled = TrainData(n=3, X=torch.tensor([[1.0], [2.0], [2.0]]), y=torch.tensor([1, 0, 0]))
    assert torch.equal(merge_rows(shuffled).X, merged.X)
    weighted = TrainData(n=3, sample_weight=torch.tensor([0.0, 2.0, 3.0]))
    assert effective_rows(weighted) == 5.0
    assert effective_rows(TrainData(n=3)) == 3.0


def test_small_checks():
    assert float(weighted_mean(torch.tensor([1.0, 4.0]), torch.tensor([2.0, 1.0]))) == 2.0
    assert check_sample_weight([1, 2], 2).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="all zero"):
        check_sample_weight([0, 0], 2)
    from sklearn.preprocessing import StandardScaler

    assert check_X(StandardScaler(), [[1, 2]], reset=True).dtype == np.float32
    with pytest.raises(TypeError, match="X must be an array-like"):
        check_X(StandardScaler(), "text", reset=True)
    check_label_types(["a", "b"])
    with pytest.raises(TypeError, match=r"y mixes label types \['int', 'str'\]"):
        check_label_types(["a", 1])


def test_pool_tokens():
    tokens = torch.tensor([[[1.0], [3.0], [9.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert [pool_tokens(tokens, mask, p).item() for p in ("mean", "max", "cls")] == [2.0, 3.0, 1.0]
