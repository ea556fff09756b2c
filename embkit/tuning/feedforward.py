"""``FeedForwardTuner``: reshape an embedding space towards labels with a small network."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from embkit._core.validation import POSITIVE_INT
from embkit._training.labels import TorchClassifierBase
from embkit.tuning._tuner import RESIDUAL_OUTPUT_CONSTRAINT, TunerMixin


class FeedForwardTuner(TunerMixin, ClassifierMixin, TorchClassifierBase):
    """A one-hidden-layer network trained on labels; it gives the tuned embedding.

    The network is ``input -> hidden (activation, dropout) -> logits``, trained with
    cross-entropy (one binary loss per label for a 2-D 0/1 ``y``); the hidden layer is the
    tuned embedding. With ``output="residual"`` the embedding is ``input + correction``
    instead, the correction starting at zero. ``transform`` feeds any scikit-learn
    classifier; ``predict``/``predict_proba`` use the network's own output layer.
    ``partial_fit`` needs ``classes=`` on its first call for 1-D ``y``.

    Parameters
    ----------
    hidden_dim : int, default=512
        Width of the hidden layer (the tuned embedding, or the correction's hidden layer).
    n_epochs : int, default=50
        Most passes made by ``fit``; ``partial_fit`` makes one pass per call.
    learning_rate : float, default=5e-3
        AdamW learning rate.
    batch_size : int, default=512
        Rows per optimisation step.
    activation : {"relu", "gelu", "tanh", "identity"}, default="relu"
        Activation of the hidden layer.
    dropout : float, default=0.5
        Dropout on the hidden layer while training, in [0, 1).
    weight_decay : float, default=1e-4
        AdamW weight decay.
    class_weight : None, "balanced" or dict, default=None
        Per-class loss weights. With ``partial_fit``, "balanced" is computed on each batch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and dropout (same seed, data and CPU: same output).
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time (stored in ``device_``).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows in ``fit`` (seeded, stratified), stop
        when the validation loss has not improved by ``tol`` for ``n_iter_no_change``
        passes, and keep the best pass's weights. ``partial_fit`` never holds data out.
        Skipped (all rows, ``n_epochs`` passes, no validation attributes) when the
        hold-out would have fewer than 10 rows and fewer than two per class (few-shot data).
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping, in (0, 1).
    n_iter_no_change : int, default=5
        Passes without improvement tolerated before stopping.
    tol : float, default=1e-4
        Smallest improvement of the validation score that counts.
    output : {"concat", "tuned", "residual"}, default="concat"
        What ``transform`` returns: the input followed by the hidden layer rescaled to the
        input's mean norm (width ``n_features_in_ + hidden_dim``), the hidden layer only
        (``hidden_dim``), or the input plus the learned correction (``n_features_in_``).
        Switching to or from ``"residual"`` needs a new ``fit``.
    verbose : bool, default=False
        Show a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray
        Class labels (columns of ``predict_proba``); ``arange(n_labels)`` for multi-label.
    multi_label_ : bool
        Whether ``y`` was a 2-D 0/1 label matrix.
    n_features_in_ : int
        Number of input features.
    module_ : torch.nn.Module
        The trained network.
    optimizer_ : torch.optim.Optimizer
        The optimiser, kept so that ``partial_fit`` continues where it stopped.
    loss_curve_ : list of float
        Mean training loss of every pass.
    n_iter_ : int
        Number of passes made.
    validation_scores_ : list of float
        With ``early_stopping`` (and not skipped on few-shot data): the negated mean
        validation loss after every pass.
    best_validation_score_ : float
        With ``early_stopping``: the best of them (the weights kept).
    best_iteration_ : int
        With ``early_stopping``: the pass whose weights were kept.
    output_scale_ : float
        Factor applied to the hidden layer with ``output="concat"``; also set with
        ``"tuned"``, so that ``set_params(output="concat")`` needs no new ``fit``
        (1.0 with ``"residual"``).
    device_ : torch.device
        The device the network lives on.

    Examples
    --------
    >>> import numpy as np
    >>> from embkit import FeedForwardTuner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 8)).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> tuner = FeedForwardTuner(16, n_epochs=50, batch_size=16, random_state=0).fit(X, y)
    >>> tuner.transform(X).shape  # output="concat": the 8 inputs, then 16 tuned columns
    (60, 24)
    >>> tuner.set_params(output="residual").fit(X, y).transform(X).shape  # input + correction
    (60, 8)
    >>> tuner.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **TorchClassifierBase._parameter_constraints,
        "hidden_dim": [POSITIVE_INT],  # the head's None (no hidden layer) tunes nothing here
        "output": RESIDUAL_OUTPUT_CONSTRAINT,
    }

    def __init__(
        self,
        hidden_dim: int = 512,
        *,
        n_epochs: int = 50,
        learning_rate: float = 5e-3,
        batch_size: int = 512,
        activation: str = "relu",
        dropout: float = 0.5,
        weight_decay: float = 1e-4,
        class_weight: Any = None,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float = 1e-4,
        output: str = "concat",
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.output = output
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _train(
        self, X: Any, y: Any, sample_weight: Any, *, classes: Any, partial: bool
    ) -> tuple[np.ndarray, Any]:
        if partial:
            self._partial_fit(X, y, sample_weight, classes=classes, partial=True)
        else:
            self._fit(X, y, sample_weight)
        return self._check_X(X), sample_weight

    def _tuned(self, X: np.ndarray) -> np.ndarray:
        out = self._infer(X, self.module_.embed)
        return out.reshape(X.shape[0], self.module_.embed_dim)

    def _residual_embedding(self) -> bool:
        return self.output == "residual"

    def _fitted_residual(self) -> bool:
        return getattr(self.module_, "back", None) is not None

    @property
    def _n_features_out(self) -> int:
        return self._output_width(self.module_.embed_dim)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True  # a 2-D 0/1 y trains one sigmoid per label
        return tags
