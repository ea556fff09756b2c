"""``DifferentiableHead``: a small torch classifier over embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from embkit._core.validation import OPEN_UNIT
from embkit._training.labels import TorchClassifierBase
from embkit._training.torch_base import TrainData

__all__ = ["DifferentiableHead"]


class DifferentiableHead(ClassifierMixin, TorchClassifierBase):
    """A linear (or one-hidden-layer) torch classifier trained with cross-entropy on logits.

    The head SetFit trains on top of a tuned body, as a scikit-learn classifier. A 2-D 0/1
    ``y`` trains one sigmoid per label, and ``predict`` thresholds the probabilities.

    Parameters
    ----------
    hidden_dim : int or None, default=None
        ``None`` for a linear head; otherwise the width of one hidden layer.
    n_epochs : int, default=50
        Passes over the data made by ``fit``; ``partial_fit`` makes one pass per call.
    learning_rate : float, default=1e-2
        AdamW learning rate.
    batch_size : int, default=32
        Rows per optimisation step.
    activation : {"relu", "gelu", "tanh", "identity"}, default="relu"
        Activation of the hidden layer (unused without one).
    dropout : float, default=0.0
        Dropout on the hidden layer while training, in [0, 1).
    weight_decay : float, default=0.0
        AdamW weight decay.
    class_weight : None, "balanced" or dict, default=None
        Per-class loss weights ("balanced" gives each class the same total weight).
    multi_label : bool, default=False
        If True, ``y`` must be a 2-D 0/1 indicator matrix. A 2-D ``y`` is always trained
        as multi-label, as in ``MLPClassifier``.
    threshold : float, default=0.5
        Probability above which a label is predicted, for multi-label ``y``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows in ``fit`` (seeded, stratified by
        label), stop when the validation loss has not improved by ``tol`` for
        ``n_iter_no_change`` passes and keep the best pass's weights. ``partial_fit``
        never holds data out. Skipped when the hold-out would have fewer than 10 rows
        and fewer than two per class.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping, in (0, 1).
    n_iter_no_change : int, default=10
        Passes without improvement tolerated before stopping.
    tol : float, default=1e-4
        Smallest improvement of the validation score that counts.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and dropout.
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time (stored in ``device_``).
    verbose : bool, default=False
        Show a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray
        Class labels, in the order of the ``predict_proba`` columns.
    multi_label_ : bool
        Whether the head was trained on a 2-D label matrix.
    n_features_in_ : int
        Width of the embeddings.
    module_ : torch.nn.Module
        The network.
    loss_curve_ : list of float
        Mean training loss of every pass.
    validation_scores_ : list of float
        With ``early_stopping``: the negated mean validation loss after every pass.
    best_validation_score_, best_iteration_ : float, int
        With ``early_stopping``: the best validation score and the pass it was reached.

    Examples
    --------
    >>> import numpy as np
    >>> from embkit import DifferentiableHead
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 4)).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> head = DifferentiableHead(n_epochs=100, random_state=0).fit(X, y)
    >>> head.predict_proba(X[:2]).sum(axis=1).round(3).tolist()
    [1.0, 1.0]
    >>> head.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **TorchClassifierBase._parameter_constraints,
        "multi_label": ["boolean"],
        "threshold": [OPEN_UNIT],
    }

    def __init__(
        self,
        *,
        hidden_dim: int | None = None,
        n_epochs: int = 50,
        learning_rate: float = 1e-2,
        batch_size: int = 32,
        activation: str = "relu",
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        class_weight: Any = None,
        multi_label: bool = False,
        threshold: float = 0.5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.hidden_dim = hidden_dim
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.activation = activation
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.multi_label = multi_label
        self.threshold = threshold
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _prepare_data(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> TrainData:
        if self.multi_label and y is not None and np.ndim(y) != 2:
            raise ValueError(
                "multi_label=True needs y as a 2-D 0/1 label matrix of shape "
                f"(n_samples, n_labels), got shape {np.shape(y)}"
            )
        return super()._prepare_data(X, y, *args, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True  # a 2-D 0/1 y trains one sigmoid per label
        return tags
