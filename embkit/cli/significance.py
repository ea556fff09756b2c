"""How much of a lead in macro F1 the test sample alone can make (paired bootstrap)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["macro_f1_lead_se"]

_CHUNK = 50  # resamples scored at once: memory is _CHUNK x n_samples counts


def _macro_f1(counts: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Macro F1 of every resample; ``counts[b, i]`` is how often row ``i`` was drawn.

    The labels averaged over are the ones ``f1_score`` uses on the whole test set: those
    in the truth or in this model's predictions.
    """
    scored = truth.any(axis=0) | pred.any(axis=0)
    truth, pred = truth[:, scored], pred[:, scored]
    hit = truth * pred  # one-hot rows where the prediction is right
    tp, support, predicted = counts @ hit, counts @ truth, counts @ pred
    denominator = support + predicted
    f1 = np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)
    return f1.mean(axis=1)


def macro_f1_lead_se(
    y_true: Any, pred_a: Any, pred_b: Any, *, n_boot: int = 1000, random_state: int = 0
) -> float:
    """Standard error of ``macro F1(pred_a) - macro F1(pred_b)`` from the test rows alone.

    The rows are drawn with replacement ``n_boot`` times and both predictions are scored on
    the same draws (a paired bootstrap), so the spread is the noise of the test sample, not
    of the models. Each model's macro F1 averages over the labels scikit-learn's
    ``f1_score`` averages over on the whole test set (those of ``y_true`` and of that
    model's predictions), so the lead is the one ``compare`` reports; such a label with no
    row and no prediction in a draw counts F1 0 there.

    Parameters
    ----------
    y_true, pred_a, pred_b : array-like of shape (n_samples,)
        True labels and two models' predictions for the same rows.
    n_boot : int, default=1000
        Number of resamples.
    random_state : int, default=0
        Seeds the resampling.

    Returns
    -------
    float

    Examples
    --------
    >>> y = ["a", "b"] * 50
    >>> same = macro_f1_lead_se(y, y, y)
    >>> near = macro_f1_lead_se(y, y, ["a", "b"] * 49 + ["b", "a"])
    >>> same, 0 < near < 0.05
    (0.0, True)
    """
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not y_true.ndim == pred_a.ndim == pred_b.ndim == 1:
        raise ValueError(
            f"y_true, pred_a and pred_b must be 1-D, got shapes {y_true.shape}, "
            f"{pred_a.shape} and {pred_b.shape}"
        )
    n = len(y_true)
    if not n == len(pred_a) == len(pred_b) or n == 0:
        raise ValueError(
            "y_true, pred_a and pred_b must have the same length, at least 1, got "
            f"{n}, {len(pred_a)} and {len(pred_b)}"
        )
    if not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    labels, codes = np.unique(np.concatenate([y_true, pred_a, pred_b]), return_inverse=True)
    onehot = np.eye(len(labels))[codes]
    truth, a, b = onehot[:n], onehot[n : 2 * n], onehot[2 * n :]
    rng = np.random.default_rng(random_state)
    leads = []
    for start in range(0, n_boot, _CHUNK):
        size = min(_CHUNK, n_boot - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)
        leads.append(_macro_f1(counts, truth, a) - _macro_f1(counts, truth, b))
    return float(np.std(np.concatenate(leads)))
