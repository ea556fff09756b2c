"""AdamW and the warm-up/decay schedule of every torch estimator."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def make_adamw(
    params: Iterable[torch.nn.Parameter], *, lr: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW, fused on CPU and CUDA: one kernel updates all parameters (same update rule)."""
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
    """Linear warm-up over ``warmup_ratio * n_steps`` steps, then linear decay to zero."""
    warmup = int(round(warmup_ratio * n_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (n_steps - step) / max(1, n_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
