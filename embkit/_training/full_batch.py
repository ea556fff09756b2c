"""Full-batch passes in which a sample weight is exactly a repetition count.

When a pass is one batch, ``sample_weight=w`` and every row repeated ``w`` times give the
same loss; :func:`merge_rows` makes them give bit-identical weights by putting both in one
canonical form (identical rows merged into one weighted row, zero weights dropped, rows
sorted by their bytes). Mini-batch passes are left alone: there a weight equals a
repetition only in expectation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from embkit._training.torch_base import ROW_FIELDS, TrainData


def effective_rows(data: TrainData) -> float:
    """The rows a pass handles or stands for: with weights, the larger of the rows of
    positive weight and the total weight (so weighted and repeated data are full-batch alike).
    """
    if data.sample_weight is None:
        return float(data.n)
    w = data.sample_weight
    return max(float((w > 0).sum()), float(w.sum()))


def _as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def merge_rows(data: TrainData) -> TrainData:
    """The canonical form of ``data``: duplicate rows merged into weights, sorted by bytes."""
    fields = [getattr(data, k) for k in ROW_FIELDS if k != "sample_weight"]
    arrays = [_as_numpy(v) for v in fields if v is not None]
    as_bytes = [np.ascontiguousarray(a.reshape(data.n, -1)).view(np.uint8) for a in arrays]
    keys = np.ascontiguousarray(np.hstack([b.reshape(data.n, -1) for b in as_bytes]))
    keys = keys.view(np.dtype((np.void, keys.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weights = np.ones(data.n) if data.sample_weight is None else _as_numpy(data.sample_weight)
    merged = np.bincount(inverse.ravel(), weights=weights.astype(np.float64), minlength=len(first))
    if data.sample_weight is None and len(first) == data.n:
        keep = first  # no duplicates, no weights: only the order changes
        new_weight = None
    else:
        positive = merged > 0
        keep = first[positive]
        new_weight = merged[positive].astype(np.float32)
    device = data.X.device if data.X is not None else torch.device("cpu")
    weight = None if new_weight is None else torch.as_tensor(new_weight, device=device)
    return data.take(keep, sample_weight=weight)
