"""AdamW and the warm-up/decay schedule of every torch estimator."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def make_adamw(
    params: Iterable[torch.nn.Parameter], *, lr: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW, fused on CPU and CUDA: one kernel updates all parameters (same update rule).

    Examples
    --------
    >>> layer = torch.nn.Linear(3, 2)
    >>> opt = make_adamw(layer.parameters(), lr=1e-3, weight_decay=0.0, device=torch.device("cpu"))
    >>> opt.param_groups[0]["lr"]
    0.001
    """
    params = list(params)
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def linear_schedule(
    optimizer: torch.optim.Optimizer, n_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_ratio * n_steps`` steps, then linear decay to zero.

    Examples
    --------
    >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> schedule = linear_schedule(opt, n_steps=4, warmup_ratio=0.5)
    >>> rates = []
    >>> for _ in range(4):
    ...     rates.append(round(opt.param_groups[0]["lr"], 3))
    ...     opt.step()
    ...     schedule.step()
    >>> rates
    [0.333, 0.667, 1.0, 0.5]
    """
    warmup = int(round(warmup_ratio * n_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (n_steps - step) / max(1, n_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
