"""``ContrastiveLearner``: a siamese network that learns an embedding from pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils.validation import check_array, check_is_fitted

from embkit._core.validation import POSITIVE_INT
from embkit._training.nn import (
    DropoutNoise,
    Projection,
    cosine_pairs,
    gathered_cosine,
)
from embkit._training.torch_base import (
    LAYER_CONSTRAINTS,
    TorchEstimatorBase,
    TrainData,
    check_sample_weight,
    check_X,
    weighted_mean,
)
from embkit.tuning.pairs import check_some_label, draw_batch_pairs


class ContrastiveLearner(ClassNamePrefixFeaturesOutMixin, TorchEstimatorBase):
    """A shared-weight (siamese) network that learns an embedding from pairs.

    Training pulls the cosine similarity of a pair's two outputs towards its target (mean
    squared error).

    Parameters
    ----------
    shape_out : int, default=512
        Size of the learned embedding.
    n_layers : int, default=2
        Linear layers in the network (1: a single projection).
    activation : {"relu", "gelu", "tanh", "identity"}, default="relu"
        Activation between layers (and after a single layer).
    dropout : float, default=0.3
        Dropout between layers while training.
    n_epochs : int, default=20
        Passes over the pairs made by ``fit``; ``partial_fit`` makes one per call.
    learning_rate : float, default=3e-3
        AdamW learning rate.
    batch_size : int, default=256
        Pairs (or, when trained by a tuner, points) per optimisation step.
    weight_decay : float, default=0.0
        AdamW weight decay.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the pairs in ``fit`` (seeded), stop when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change`` passes and
        keep the best pass's weights. ``partial_fit`` never holds data out.
    validation_fraction : float, default=0.1
        Share held out for early stopping, in (0, 1).
    n_iter_no_change : int, default=5
        Passes without improvement tolerated before stopping.
    tol : float, default=1e-4
        Smallest improvement of the validation score that counts.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and in-batch pair sampling.
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time (stored in ``device_``).
    verbose : bool, default=False
        Show a progress bar over epochs.

    Attributes
    ----------
    module_ : torch.nn.Module
        The shared network.
    optimizer_ : torch.optim.Optimizer
        Its optimiser, kept by ``partial_fit``.
    n_features_in_ : int
        Width of the input vectors.
    loss_curve_ : list of float
        Mean loss of every pass.
    n_iter_ : int
        Passes made.
    validation_scores_, best_validation_score_, best_iteration_ : list, float, int
        With ``early_stopping``: the negated mean validation loss after every pass, the
        best of them and the pass whose weights were kept.
    device_ : torch.device
        Where the network lives.

    Examples
    --------
    >>> import numpy as np
    >>> from embkit import ContrastiveLearner
    >>> rng = np.random.default_rng(0)
    >>> X1, X2 = rng.normal(size=(2, 200, 8)).astype("float32")
    >>> y = (np.sign(X1[:, 0]) == np.sign(X2[:, 0])).astype("float32")
    >>> learner = ContrastiveLearner(4, n_epochs=50, batch_size=64, learning_rate=1e-2)
    >>> learner = learner.set_params(random_state=0).fit(X1, X2, y)
    >>> learner.transform(X1).shape
    (200, 4)
    >>> learner.score(X1, X2, y) > 0.5
    True
    """

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        **LAYER_CONSTRAINTS,
        "shape_out": [POSITIVE_INT],
        "n_layers": [POSITIVE_INT],
    }

    def __init__(
        self,
        shape_out: int = 512,
        *,
        n_layers: int = 2,
        activation: str = "relu",
        dropout: float = 0.3,
        n_epochs: int = 20,
        learning_rate: float = 3e-3,
        batch_size: int = 256,
        weight_decay: float = 0.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float = 1e-4,
        random_state: Any = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.shape_out = shape_out
        self.n_layers = n_layers
        self.activation = activation
        self.dropout = dropout
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    @classmethod
    def _unit_test_params(cls) -> dict:
        """Cheap constructor arguments for tests/test_text_estimators.py."""
        return dict(shape_out=4, n_epochs=2, random_state=0, device="cpu")

    def _build_module(self, data: TrainData) -> torch.nn.Module:
        return Projection(
            self.n_features_in_,
            self.shape_out,
            n_layers=self.n_layers,
            activation=self.activation,
            dropout=self.dropout,
        )

    def _prepare_data(
        self,
        X1: Any,
        X2: Any = None,
        y: Any = None,
        sample_weight: Any = None,
        *,
        reset: bool,
        device: torch.device,
        grouped: bool = False,
        n_neg: int = 3,
    ) -> TrainData:
        if grouped:  # points with class codes: pairs are drawn inside each batch
            X = check_X(self, X1, reset=reset)
            if reset and X2 is not None and X2.ndim == 2:
                check_some_label(X2)
            return TrainData(
                n=X.shape[0],
                X=self._to_tensor(X, device),
                y=None,
                sample_weight=(
                    None if sample_weight is None else torch.as_tensor(sample_weight, device=device)
                ),
                groups=X2,
                n_neg=n_neg,
            )
        X1 = check_X(self, X1, reset=reset, name="X1")
        X2 = self._check_second(X2, X1)
        y = _check_similarity(y, X1.shape[0])
        weights = check_sample_weight(sample_weight, X1.shape[0])
        return TrainData(
            n=X1.shape[0],
            X=self._to_tensor(X1, device),
            y=torch.as_tensor(y, device=device),
            sample_weight=None if weights is None else torch.as_tensor(weights, device=device),
            X2=self._to_tensor(X2, device),
        )

    def _check_second(self, X2: Any, X1: np.ndarray) -> np.ndarray:
        if X2 is None:
            raise ValueError("X2 is required: the second side of every pair")
        # X1's width and column names (a tensor that requires grad: its values)
        X2 = check_X(self, X2, reset=False, name="X2")
        if X2.shape[0] != X1.shape[0]:
            raise ValueError(
                f"X1 and X2 must have the same number of rows (one pair per row), "
                f"got {X1.shape[0]} and {X2.shape[0]}"
            )
        return X2

    def _batch_loss(
        self, data: TrainData, idx: torch.Tensor, noise: DropoutNoise
    ) -> torch.Tensor | None:
        if data.groups is not None:
            return self._grouped_loss(data, idx, noise)
        left = self.module_(data.X.index_select(0, idx), noise)
        right = self.module_(data.X2.index_select(0, idx), noise)
        per_pair = (cosine_pairs(left, right) - data.y.index_select(0, idx)) ** 2
        weight = None if data.sample_weight is None else data.sample_weight.index_select(0, idx)
        return weighted_mean(per_pair, weight)

    def _grouped_loss(
        self, data: TrainData, idx: torch.Tensor, noise: DropoutNoise
    ) -> torch.Tensor | None:
        """Embed each point of the batch once, then pair points inside the batch."""
        if data.pairs is not None:  # validation rows: pairs drawn once, the same every pass
            i1, i2, target = data.pairs
        else:
            i1, i2, target = draw_batch_pairs(data.groups[idx.cpu().numpy()], data.n_neg, self._rng)
        if i1.size == 0:  # label-matrix rows with no label in this batch: nothing to learn
            return None
        emb = self.module_(data.X.index_select(0, idx), noise)
        i1_t = torch.from_numpy(i1).to(self.device_)
        i2_t = torch.from_numpy(i2).to(self.device_)
        per_pair = (gathered_cosine(emb, i1_t, i2_t) - torch.from_numpy(target).to(emb)) ** 2
        weight = None
        if data.sample_weight is not None:
            weight = data.sample_weight.index_select(0, idx).index_select(0, i1_t)
        return weighted_mean(per_pair, weight)

    def _stratify_labels(self, data: TrainData) -> np.ndarray | None:
        groups = data.groups
        if groups is not None and groups.ndim == 2:  # a label matrix: rows with and without
            return groups.any(axis=1)
        return groups

    def _prepare_validation(self, val: TrainData) -> TrainData:
        if val.groups is not None:
            val.pairs = draw_batch_pairs(val.groups, val.n_neg, self._rng)
            if val.pairs[0].size == 0:
                raise ValueError(
                    "the early-stopping hold-out (validation_fraction="
                    f"{self.validation_fraction}) has no row with a label, so no pairs to score: "
                    "pass more labelled rows, a larger validation_fraction, or "
                    "early_stopping=False"
                )
        return val

    def fit(self, X1: Any, X2: Any, y: Any, sample_weight: Any = None) -> ContrastiveLearner:
        """Train from scratch on pairs for ``n_epochs`` passes.

        Parameters
        ----------
        X1, X2 : array-like of shape (n_pairs, n_features)
            The two sides of every pair.
        y : array-like of shape (n_pairs,)
            Target cosine similarity of each pair, in [-1, 1] (1 similar, 0 unrelated).
        sample_weight : array-like of shape (n_pairs,), default=None
            Per-pair loss weights.

        Returns
        -------
        self
        """
        return self._fit(X1, X2, y, sample_weight)

    def partial_fit(
        self, X1: Any, X2: Any, y: Any, sample_weight: Any = None
    ) -> ContrastiveLearner:
        """One pass over a batch of pairs, continuing earlier training.

        Parameters
        ----------
        X1, X2 : array-like of shape (n_pairs, n_features)
        y : array-like of shape (n_pairs,)
        sample_weight : array-like of shape (n_pairs,), default=None

        Returns
        -------
        self
        """
        return self._partial_fit(X1, X2, y, sample_weight)

    def transform(self, X: Any) -> np.ndarray:
        """The learned embedding of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, shape_out), float32
        """
        check_is_fitted(self)
        X = check_X(self, X, reset=False)
        return self._infer(X, self.module_).reshape(X.shape[0], self.shape_out_)

    def predict(self, X1: Any, X2: Any) -> np.ndarray:
        """Cosine similarity of every pair in the learned space.

        Parameters
        ----------
        X1, X2 : array-like of shape (n_pairs, n_features)

        Returns
        -------
        ndarray of shape (n_pairs,), float32, values in [-1, 1]
        """
        check_is_fitted(self)
        X1 = check_X(self, X1, reset=False, name="X1")
        X2 = self._check_second(X2, X1)
        left = torch.as_tensor(self._infer(X1, self.module_))  # both checked above
        right = torch.as_tensor(self._infer(X2, self.module_))
        return cosine_pairs(left, right).numpy()

    def score(self, X1: Any, X2: Any, y: Any) -> float:
        """Spearman rank correlation between predicted cosine and the targets ``y``.

        Parameters
        ----------
        X1, X2 : array-like of shape (n_pairs, n_features)
        y : array-like of shape (n_pairs,)

        Returns
        -------
        float
        """
        predicted = self.predict(X1, X2)
        y = _check_similarity(y, len(predicted))
        return float(spearmanr(predicted, y).statistic)

    @property
    def shape_out_(self) -> int:
        check_is_fitted(self, "module_")
        return self.module_.layers[-1].out_features

    @property
    def _n_features_out(self) -> int:
        return self.shape_out_


def _check_similarity(y: Any, n_pairs: int) -> np.ndarray:
    if y is None:
        raise ValueError("y is required: the target similarity of every pair")
    try:
        y = check_array(y, ensure_2d=False, dtype=np.float32, input_name="y")
    except ValueError as exc:
        if "could not convert" not in str(exc):
            raise
        raise TypeError(f"y must hold numbers (target similarities in [-1, 1]): {exc}") from exc
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one target per pair), got shape {y.shape}")
    if y.shape[0] != n_pairs:
        raise ValueError(f"y has {y.shape[0]} targets for {n_pairs} pairs")
    if np.any(np.abs(y) > 1):
        raise ValueError(
            "y must hold target cosine similarities in [-1, 1] (1 similar, 0 dissimilar), "
            f"got values from {y.min()} to {y.max()}"
        )
    return y
