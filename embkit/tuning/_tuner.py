"""What every tuner shares: ``fit``/``partial_fit``/``transform`` and the ``output`` parameter.

A tuner defines ``_train`` (validate and train) and ``_tuned(X)`` (the learned embedding).
``output="concat"`` returns ``[X, output_scale_ * tuned]``, the tuned part rescaled to the
raw vectors' mean row norm on the training rows (with ``partial_fit``, every row since the
last ``fit``, as ``StandardScaler.partial_fit`` accumulates its mean); see docs/tuners.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from embkit._training.rollback import unchanged_on_error
from embkit._training.torch_base import check_X

OUTPUT_CONSTRAINT = [StrOptions({"tuned", "concat"})]
RESIDUAL_OUTPUT_CONSTRAINT = [StrOptions({"residual", "tuned", "concat"})]


_SCALE_CHUNK = 8192  # rows per step of ``_fit_output_scale``


def _weighted_norm_sum(rows: np.ndarray, weights: np.ndarray | None) -> float:
    """Sum of the rows' Euclidean norms (float64 sums), each times its weight if given."""
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64))
    return float(norms.sum() if weights is None else norms @ weights)


class TunerMixin(TransformerMixin):
    """``fit``, ``partial_fit`` and ``transform`` of a tuner with ``_train`` and ``_tuned``.

    A tuner that accepts ``output="residual"`` says in ``_fitted_residual()`` whether its
    fitted network was built for it.
    """

    _atomic_partial_fit = True  # a failed partial_fit rolls itself back (PartialPipeline)

    def _fitted_residual(self) -> bool:
        """Whether the fitted network's embedding is ``input + correction``."""
        return False

    def _check_output_matches_network(self) -> None:
        if (self.output == "residual") != self._fitted_residual():
            raise ValueError(
                f"output={self.output!r} needs a network fitted with that output: "
                '"residual" builds a different network than "tuned" and "concat"; '
                "call fit again after changing it"
            )

    def _train(
        self, X: Any, y: Any, sample_weight: Any, *, classes: Any, partial: bool
    ) -> tuple[np.ndarray, Any]:
        """Validate and train; return the validated ``X`` and its sample weights."""
        raise NotImplementedError

    def _fit_tuner(self, X: Any, y: Any, sample_weight: Any, classes: Any, partial: bool):
        if partial and hasattr(self, "n_features_in_"):
            self._check_output_matches_network()  # before training the wrong network
        with unchanged_on_error(self):  # all or nothing, ``output_scale_`` included
            X, weights = self._train(X, y, sample_weight, classes=classes, partial=partial)
            self._fit_output_scale(X, weights, partial=partial)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None):
        """Train from scratch (at most ``n_epochs`` passes; fewer with early stopping).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels, or a 0/1 label matrix for multi-label data.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row loss weights.

        Returns
        -------
        self
        """
        return self._fit_tuner(X, y, sample_weight, None, partial=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None):
        """One pass over a batch, keeping the network and optimiser of earlier calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like, default=None
            Every label the stream can contain (see the class docstring for when it is
            required). With a 2-D label matrix: one name per column, checked against the
            number of columns (``classes_`` numbers the columns 0, 1, ...).

        Returns
        -------
        self
        """
        return self._fit_tuner(X, y, sample_weight, classes, partial=True)

    def transform(self, X: Any) -> np.ndarray:
        """The tuned embedding: alone, after the input (``"concat"``) or input + correction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), float32
            ``n_features_out`` is ``hidden_dim`` with ``output="tuned"``,
            ``n_features_in_ + hidden_dim`` with ``"concat"`` and ``n_features_in_`` with
            ``"residual"``.
        """
        check_is_fitted(self)
        return self._output(check_X(self, X, reset=False))

    def _fit_output_scale(
        self, X: np.ndarray, sample_weight: Any = None, partial: bool = False
    ) -> None:
        """``output_scale_``: mean raw row norm over mean tuned row norm (weighted).

        ``fit`` measures its rows; ``partial_fit`` adds the rows of its batch (the tuned
        norms taken with the network as the call leaves it) to the sums of the earlier calls
        since ``fit`` (``_scale_sums_``), so that one short batch cannot swing the scale
        that the classifier downstream was trained on. Chunks of rows: a large batch is never
        held twice or in float64.
        """
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w is not None and w.ndim == 0:
            w = np.full(len(X), float(w))
        raw_sum = tuned_sum = 0.0
        if self.output != "residual":
            for start in range(0, len(X), _SCALE_CHUNK):
                rows = X[start : start + _SCALE_CHUNK]
                weights = None if w is None else w[start : start + _SCALE_CHUNK]
                raw_sum += _weighted_norm_sum(rows, weights)
                tuned_sum += _weighted_norm_sum(self._tuned(rows), weights)
        earlier = getattr(self, "_scale_sums_", None) if partial else None
        if earlier is not None:  # absent in tuners saved by earlier releases
            raw_sum, tuned_sum = raw_sum + earlier[0], tuned_sum + earlier[1]
        self._scale_sums_ = (raw_sum, tuned_sum)
        self.output_scale_ = raw_sum / tuned_sum if tuned_sum > 0 else 1.0

    def _output(self, X: np.ndarray) -> np.ndarray:
        self._check_output_matches_network()
        tuned = self._tuned(X)
        if self.output in ("tuned", "residual"):
            return tuned
        scale = np.float32(self.output_scale_)
        return np.hstack([X.astype(np.float32, copy=False), tuned * scale])

    def _output_width(self, tuned_width: int) -> int:
        return tuned_width + (self.n_features_in_ if self.output == "concat" else 0)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns: ``<class name lower-cased>0 ...``, after the input
        names with ``output="concat"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names, checked against ``feature_names_in_`` when that is set.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        self._check_output_matches_network()
        prefix = type(self).__name__.lower()
        width = self._n_features_out - (self.n_features_in_ if self.output == "concat" else 0)
        names_in = _check_feature_names_in(self, input_features)
        tuned = np.asarray([f"{prefix}{i}" for i in range(width)], dtype=object)
        return tuned if self.output != "concat" else np.concatenate([names_in, tuned])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
