"""What a tuner's ``transform`` returns: the tuned embedding alone, or the input beside it.

``output="tuned"`` returns the learned embedding only. ``output="concat"`` returns
``[X, scale * tuned]``: the raw vector is kept whole, so a linear model downstream can
always fall back on it, and the tuned part is rescaled so that its mean row norm equals the
raw vectors' (``output_scale_``, measured on the rows of the last ``fit``/``partial_fit``),
which keeps a regularised classifier from favouring either half by scale alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embkit._core.validation import check_choice

OUTPUTS = ("tuned", "concat")


class TunedOutputMixin:
    """Adds the ``output`` parameter's behaviour to a tuner with a ``_tuned(X)`` method."""

    def _check_output(self) -> str:
        return check_choice(self.output, "output", OUTPUTS)

    def _fit_output_scale(self, X: np.ndarray, sample_weight: Any = None) -> None:
        """Set ``output_scale_`` from the training rows ``X`` (raw) and their tuned vectors.

        The mean row norms are weighted by ``sample_weight``, so a weight of 2 counts as
        the row given twice (and a weight of 0 as no row).
        """
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if len(X) == 0 or (w is not None and not w.sum() > 0):
            self.output_scale_ = 1.0
            return
        tuned = self._tuned(X)
        raw_norm = float(np.average(np.linalg.norm(X.astype(np.float64), axis=1), weights=w))
        tuned_norm = float(np.average(np.linalg.norm(tuned.astype(np.float64), axis=1), weights=w))
        self.output_scale_ = raw_norm / tuned_norm if tuned_norm > 0 else 1.0

    def _output(self, X: np.ndarray) -> np.ndarray:
        tuned = self._tuned(X)
        if self.output == "tuned":
            return tuned
        scale = np.float32(self.output_scale_)
        return np.hstack([X.astype(np.float32, copy=False), tuned * scale])

    def _output_width(self, tuned_width: int) -> int:
        return tuned_width + (self.n_features_in_ if self.output == "concat" else 0)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns.

        With ``output="tuned"``: ``<class name lower-cased>0 ...``; with ``"concat"`` the
        input names (``x0, x1, ...`` or those seen in ``fit``) come first.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names, checked against ``feature_names_in_`` when that is set.

        Returns
        -------
        ndarray of str
        """
        from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

        check_is_fitted(self)
        prefix = type(self).__name__.lower()
        width = self._n_features_out - (self.n_features_in_ if self.output == "concat" else 0)
        tuned = np.asarray([f"{prefix}{i}" for i in range(width)], dtype=object)
        if self.output != "concat":
            return tuned
        return np.concatenate([_check_feature_names_in(self, input_features), tuned])
