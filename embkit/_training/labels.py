"""Labels: one mechanism for every estimator trained on labels, and the classifier base.

:class:`LabelMixin` sets ``classes_`` (``classes=`` is required on the first
``partial_fit``), turns ``y`` into class codes (or a 2-D 0/1 matrix, one sigmoid per label)
and computes the weights of ``class_weight``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted
from torch.nn import functional as F

from embkit._core.validation import POSITIVE_INT
from embkit._training.nn import MLP, DropoutNoise
from embkit._training.torch_base import (
    LAYER_CONSTRAINTS,
    TorchEstimatorBase,
    TrainData,
    check_sample_weight,
    check_X,
    weighted_mean,
)


def check_label_types(y: Any, *, name: str = "y") -> None:
    """Refuse labels that mix strings and numbers (numpy would silently turn all into str)."""
    if y is None:
        return
    if isinstance(y, (list, tuple)):
        flat = [v for row in y for v in (row if isinstance(row, (list, tuple)) else [row])]
    else:  # an array-like: only an object array can mix types
        y = np.asarray(y)
        if y.dtype != object:
            return
        flat = y.ravel().tolist()
    has_str = any(isinstance(v, str) for v in flat)
    if has_str and not all(isinstance(v, str) for v in flat):
        kinds = sorted({type(v).__name__ for v in flat})
        raise TypeError(f"{name} mixes label types {kinds}: use only strings or only numbers")


def check_y(y: Any, n_samples: int) -> np.ndarray:
    """``y`` as an array of one label (or label row) per sample; mixed types, None refused."""
    if y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None: pass the labels "
            "of X (1-D) or a 2-D 0/1 label matrix"
        )
    if isinstance(y, (Mapping, AbstractSet, Iterator)):
        raise TypeError(
            f"y must be an array-like of labels (list, numpy array, pandas Series), got a "
            f"{type(y).__name__}: pass a list in the order of the rows of X"
        )
    sized = hasattr(y, "__len__") or hasattr(y, "__array__")
    if isinstance(y, (str, bytes)) or getattr(y, "ndim", 1) == 0 or not sized:
        raise TypeError(f"y must be an array-like of labels, got a single {type(y).__name__}")
    check_label_types(y)
    try:
        y = check_array(
            y, ensure_2d=False, allow_nd=True, dtype=None, ensure_all_finite=False, input_name="y"
        )
    except (TypeError, ValueError) as exc:
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(f"y must be 1-D labels or a 2-D 0/1 label matrix: {exc}") from exc
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is used as 1-D.",
            DataConversionWarning,
            stacklevel=4,
        )
        y = y.ravel()
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D labels or a 2-D 0/1 matrix, got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have different lengths: {n_samples} rows in X, {y.shape[0]} in y"
        )
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity")
    if y.dtype.kind == "O" and any(v is None for v in y.ravel()):
        raise ValueError("y contains None")
    return y


CLASS_WEIGHT_CONSTRAINT = [None, StrOptions({"balanced"}), dict]


class LabelMixin:
    """Turns labels into training targets: ``classes_``, label codes, class weights.

    ``_accepts_label_matrix = False`` refuses a 2-D ``y`` (and sets no ``multi_label_``).
    """

    _accepts_label_matrix = True

    def _encode_labels(
        self, y: Any, n_samples: int, *, reset: bool, classes: Any = None, partial: bool = False
    ) -> np.ndarray:
        """Validate ``y``: int64 class codes, or a float32 0/1 matrix (multi-label).

        ``reset`` sets ``classes_`` from ``classes`` or ``y``; later calls check against it.
        """
        y = check_y(y, n_samples)
        multi_label = y.ndim == 2
        if multi_label and not self._accepts_label_matrix:
            raise ValueError(f"y must be 1-D labels, got an array of shape {y.shape}")
        if reset:
            self._set_classes(y, classes, partial=partial)
        elif classes is not None and getattr(self, "multi_label_", False):
            _check_label_names(classes, len(self.classes_))
        elif classes is not None and not np.array_equal(_check_classes(classes), self.classes_):
            raise ValueError(
                f"classes={list(classes)!r} differs from the classes of the first partial_fit "
                f"call, {self.classes_.tolist()!r}"
            )
        if multi_label != getattr(self, "multi_label_", False):
            raise ValueError(
                "y is a 2-D label matrix but the estimator was fitted on 1-D labels"
                if multi_label
                else "y is 1-D but the estimator was fitted on a 2-D label matrix"
            )
        if multi_label:
            if y.shape[1] != len(self.classes_):
                raise ValueError(f"y has {y.shape[1]} label columns, expected {len(self.classes_)}")
            if not np.isin(y, (0, 1)).all():
                raise ValueError("a 2-D y must contain only 0 and 1")
            return y.astype(np.float32)
        check_classification_targets(y)
        codes = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels that are not in classes_ {self.classes_.tolist()!r}: "
                f"{np.unique(y[unknown]).tolist()!r}"
            )
        return codes.astype(np.int64)

    def _set_classes(self, y: np.ndarray, classes: Any, *, partial: bool) -> None:
        if self._accepts_label_matrix:
            self.multi_label_ = y.ndim == 2
        if y.ndim == 2:
            if classes is not None:
                _check_label_names(classes, y.shape[1])
            self.classes_ = np.arange(y.shape[1])  # the columns, numbered
            return
        if partial and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: all the labels "
                "the stream may contain, e.g. classes=['neg', 'pos']"
            )
        labels = np.unique(y) if classes is None else _check_classes(classes)
        if classes is not None:
            check_same_label_type(y, labels, "classes holds")
        if len(labels) < 2:
            raise ValueError(
                f"at least two classes are needed; got only one class: {labels.tolist()!r}"
            )
        self.classes_ = labels

    def _class_weights(
        self, targets: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Each class's loss weight for the ``targets`` of one call (``None``: all equal).

        "balanced" counts each row by its ``sample_weight``, so that a weight of 2 still
        counts as the row twice. For a label matrix, "balanced" weighs each label's
        positives by negatives/positives.
        """
        cw = self.class_weight
        if cw is None:
            return None
        rows = np.ones(len(targets)) if sample_weight is None else np.asarray(sample_weight)
        if getattr(self, "multi_label_", False):
            if cw != "balanced":
                raise ValueError("class_weight for a 2-D label matrix must be None or 'balanced'")
            positives = rows @ targets.astype(np.float64)
            negatives = rows.sum() - positives
            return np.divide(negatives, positives, out=np.ones_like(positives), where=positives > 0)
        if isinstance(cw, str):  # "balanced": n_rows / (n_classes * rows of the class)
            counts = np.bincount(targets, weights=rows, minlength=len(self.classes_))
            present = counts > 0
            weights = np.ones(len(self.classes_))
            weights[present] = counts[present].sum() / (present.sum() * counts[present])
            return weights
        unknown = set(cw) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(f"class_weight has labels not in classes_: {sorted(unknown)!r}")
        weights = np.array([cw.get(c, 1.0) for c in self.classes_.tolist()], dtype=object)
        if not all(isinstance(w, numbers.Real) and 0 <= w < np.inf for w in weights):
            raise ValueError(f"class_weight values must be finite numbers >= 0, got {cw!r}")
        return weights.astype(np.float64)

    def _class_weight_tensor(
        self, targets: np.ndarray, device: Any, sample_weight: np.ndarray | None = None
    ) -> torch.Tensor | None:
        weights = self._class_weights(targets, sample_weight)
        if weights is None:
            return None
        return torch.as_tensor(weights, dtype=torch.float32, device=device)


def _check_label_names(classes: Any, n_labels: int) -> None:
    """With a 2-D label matrix, ``classes=`` names its columns: one name per column."""
    if np.ndim(classes) != 1 or len(classes) != n_labels:
        raise ValueError(
            f"classes must name the {n_labels} label columns of a 2-D y, one name each, got "
            f"{classes!r}"
        )


def _check_classes(classes: Any) -> np.ndarray:
    """The sorted distinct labels of a ``classes=`` argument: 1-D, one type, no None or NaN."""
    labels = np.asarray(classes)
    if labels.ndim == 1:
        check_label_types(classes, name="classes")
    missing = labels.dtype.kind in "fc" and not np.all(np.isfinite(labels))
    if labels.ndim != 1 or missing or any(v is None for v in labels.ravel()):
        raise ValueError(
            f"classes must be a 1-D list of every label (no None or NaN), got {classes!r}"
        )
    return np.unique(labels)


def is_text(labels: np.ndarray) -> bool:
    """Whether ``labels`` are strings (or objects), not numbers."""
    return labels.dtype.kind in "OUS"


def check_same_label_type(y: np.ndarray, known: np.ndarray, what: str) -> None:
    """A ``TypeError`` when ``y`` holds strings and ``known`` numbers, or the reverse."""
    if is_text(y) != is_text(known):
        kind = {True: "strings", False: "numbers"}
        raise TypeError(
            f"y holds {kind[is_text(y)]} but {what} {kind[is_text(known)]}: they must be of "
            "one type"
        )


class TorchClassifierBase(LabelMixin, TorchEstimatorBase):
    """Classifier on top of the torch base: an :class:`MLP` trained with cross-entropy."""

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        **LAYER_CONSTRAINTS,
        "hidden_dim": [POSITIVE_INT, None],
        "class_weight": CLASS_WEIGHT_CONSTRAINT,
    }

    def _build_module(self, data: TrainData) -> torch.nn.Module:
        return MLP(
            self.n_features_in_,
            len(self.classes_),
            hidden_dim=self.hidden_dim,
            activation=self.activation,
            dropout=self.dropout,
            residual=self._residual_embedding(),
        )

    def _residual_embedding(self) -> bool:
        """Whether the network's embedding is ``input + correction`` (see :class:`MLP`)."""
        return False

    def fit(self, X: Any, y: Any, sample_weight: Any = None):
        """Train from scratch for ``n_epochs`` passes.

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
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None):
        """Make one pass over a batch, keeping the network and optimiser of earlier calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like, default=None
            Every label the stream can contain. Required on the first call for 1-D ``y``.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, sample_weight, classes=classes, partial=True)

    def _prepare_data(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        reset: bool,
        device: torch.device,
        classes: Any = None,
        partial: bool = False,
    ) -> TrainData:
        X = check_X(self, X, reset=reset)
        targets = self._encode_labels(y, X.shape[0], reset=reset, classes=classes, partial=partial)
        weights = check_sample_weight(sample_weight, X.shape[0])
        return TrainData(
            n=X.shape[0],
            X=self._to_tensor(X, device),
            y=torch.as_tensor(targets, device=device),
            sample_weight=None if weights is None else torch.as_tensor(weights, device=device),
            class_weight=self._class_weight_tensor(targets, device, weights),
        )

    def _batch_loss(self, data: TrainData, idx: torch.Tensor, noise: DropoutNoise) -> torch.Tensor:
        logits = self.module_(data.X.index_select(0, idx), noise)
        target = data.y.index_select(0, idx)
        class_weight = data.class_weight
        if self.multi_label_:
            per_row = F.binary_cross_entropy_with_logits(
                logits, target, pos_weight=class_weight, reduction="none"
            ).mean(dim=1)
        else:
            per_row = F.cross_entropy(logits, target, weight=class_weight, reduction="none")
        weight = None if data.sample_weight is None else data.sample_weight.index_select(0, idx)
        return weighted_mean(per_row, weight)

    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return check_X(self, X, reset=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (rows sum to 1), or per-label probabilities for multi-label.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float32
            Columns in the order of ``classes_``.
        """
        X = self._check_X(X)
        link = torch.sigmoid if self.multi_label_ else (lambda z: torch.softmax(z, dim=1))
        proba = self._infer(X, lambda xb: link(self.module_(xb)))
        return proba.reshape(X.shape[0], len(self.classes_))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (``classes_`` values), or a 0/1 matrix for multi-label.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        proba = self.predict_proba(X)
        if self.multi_label_:
            return (proba >= getattr(self, "threshold", 0.5)).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]
