"""Resolve the ``device`` parameter of the torch estimators."""

from __future__ import annotations

import torch

_VALID = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn a ``device`` parameter into a :class:`torch.device` available here.

    ``"auto"`` (or ``None``) picks cuda, then mps, then cpu; an unavailable device is a
    ``ValueError``.
    """
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be one of {list(_VALID)} or a torch device, got {device!r}"
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here")
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r} was asked for but MPS is not available here")
    return resolved


def loadable_device(device: torch.device | str) -> torch.device:
    """The device a saved model should load onto here: itself if available, else the CPU."""
    device = torch.device(device)
    try:
        return resolve_device(device)
    except ValueError:
        return torch.device("cpu")
