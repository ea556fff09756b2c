"""``FeedForwardTuner``: reshape an embedding space towards labels with a small network."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin

from embkit._training.labels import TorchClassifierBase


class FeedForwardTuner(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClassifierMixin, TorchClassifierBase
):
    """A one-hidden-layer network trained on labels; its hidden layer is the tuned embedding.

    The network is ``input -> hidden (activation, dropout) -> logits``, trained with
    cross-entropy on the logits (or one binary loss per label when ``y`` is a 2-D 0/1
    matrix). ``transform`` returns the hidden layer, so the tuner is a pipeline step that
    feeds any scikit-learn classifier; ``predict``/``predict_proba`` use the network's
    own output layer, so it is a classifier too.

    Parameters
    ----------
    hidden_dim : int, default=512
        Width of the hidden layer, the size of the tuned embedding.
    n_epochs : int, default=20
        Passes over the data made by ``fit``. ``partial_fit`` makes one pass per call.
    learning_rate : float, default=5e-3
        AdamW learning rate.
    batch_size : int, default=512
        Rows per optimisation step. Large batches are fast on CPU.
    activation : {"relu", "gelu", "tanh", "identity"}, default="relu"
        Activation of the hidden layer.
    dropout : float, default=0.5
        Dropout on the hidden layer while training, in [0, 1).
    weight_decay : float, default=1e-4
        AdamW weight decay.
    class_weight : None, "balanced" or dict, default=None
        Per-class loss weights. With ``partial_fit``, "balanced" is computed on each batch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and dropout. Same seed, same data, CPU:
        identical output.
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time (stored in ``device_``).
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
    >>> tuner.transform(X).shape
    (60, 16)
    >>> tuner.score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        hidden_dim: int = 512,
        *,
        n_epochs: int = 20,
        learning_rate: float = 5e-3,
        batch_size: int = 512,
        activation: str = "relu",
        dropout: float = 0.5,
        weight_decay: float = 1e-4,
        class_weight: Any = None,
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
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def transform(self, X: Any) -> np.ndarray:
        """The tuned embedding: the hidden layer of the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, hidden_dim), float32
        """
        X = self._check_X(X)
        out = self._infer(X, self.module_.embed)
        return out.reshape(X.shape[0], self.module_.hidden.out_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @property
    def _n_features_out(self) -> int:
        return self.module_.hidden.out_features
