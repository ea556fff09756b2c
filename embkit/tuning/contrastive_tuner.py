"""``ContrastiveTuner``: the pipeline face of ``ContrastiveLearner``, trained on labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from embkit._core.validation import NON_NEGATIVE_INT, POSITIVE_INT
from embkit._training.labels import LabelMixin, check_same_label_type, check_y
from embkit._training.rollback import unchanged_on_error
from embkit._training.torch_base import check_sample_weight, check_X
from embkit.tuning._tuner import OUTPUT_CONSTRAINT, TunerMixin
from embkit.tuning.contrastive import ContrastiveLearner

_LEARNER_PARAMS = tuple(k for k in ContrastiveLearner._parameter_constraints if k != "shape_out")
"""The learner's parameters that the tuner has too, under the same name."""


class ContrastiveTuner(TunerMixin, LabelMixin, BaseEstimator):
    """Reshape an embedding space so that points with the same label move together.

    The pipeline face of :class:`ContrastiveLearner` (``learner_``): each point of a batch
    is embedded once per step and paired inside the batch with one partner of its class and
    ``n_neg`` of others. ``partial_fit`` takes ``classes=`` optionally: without it,
    ``classes_`` grows with the labels seen; with it, other labels are an error.

    Parameters
    ----------
    hidden_dim : int, default=512
        Size of the tuned embedding.
    n_neg : int, default=3
        Dissimilar partners per point and step.
    n_epochs : int, default=50
        Most passes made by ``fit`` (fewer with ``early_stopping``); ``partial_fit`` makes
        one per call.
    learning_rate : float, default=3e-3
        AdamW learning rate.
    batch_size : int, default=256
        Points per step (pairs are formed among them).
    n_layers : int, default=2
        Linear layers of the learner's network.
    activation : {"relu", "gelu", "tanh", "identity"}, default="relu"
        Activation of the learner's network.
    dropout : float, default=0.3
        Dropout between layers while training.
    weight_decay : float, default=0.0
        AdamW weight decay.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the points in ``fit`` (stratified), score the
        pair loss on fixed pairs among them after every pass, stop after ``n_iter_no_change``
        passes without a gain of ``tol``, keep the best pass. Not in ``partial_fit``.
        Skipped when the hold-out would have fewer than 10 points and fewer than two
        per class.
    validation_fraction : float, default=0.1
        Share of the points held out for early stopping, in (0, 1).
    n_iter_no_change : int, default=5
        Passes without improvement tolerated before stopping.
    tol : float, default=1e-4
        Smallest improvement of the validation score that counts.
    output : {"tuned", "concat"}, default="concat"
        What ``transform`` returns: the learned embedding only (width ``hidden_dim``), or
        the input followed by the learned embedding rescaled to the input's mean norm
        (width ``n_features_in_ + hidden_dim``).
    random_state : int, RandomState instance or None, default=None
        Seeds everything random; same seed, same data, CPU: identical output.
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time.
    verbose : bool, default=False
        Show a progress bar over epochs.

    Attributes
    ----------
    learner_ : ContrastiveLearner
        The trained learner.
    classes_ : ndarray
        Labels seen (``arange(n_labels)`` for a 2-D 0/1 ``y``).
    multi_label_ : bool
        Whether ``y`` was a 2-D 0/1 matrix.
    n_features_in_ : int
        Input width.
    output_scale_ : float
        Factor applied to the learned embedding with ``output="concat"``.
    validation_scores_, best_validation_score_, best_iteration_ : list, float, int
        With ``early_stopping``: from the learner (see :class:`ContrastiveLearner`).

    Examples
    --------
    >>> import numpy as np
    >>> from embkit import ContrastiveTuner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(90, 8)).astype("float32")
    >>> y = np.repeat(["a", "b", "c"], 30)
    >>> X[y == "a", 0] += 3
    >>> tuner = ContrastiveTuner(hidden_dim=4, n_epochs=5, random_state=0).fit(X, y)
    >>> tuner.transform(X).shape  # output="concat": the 8 inputs, then 4 tuned columns
    (90, 12)
    """

    _parameter_constraints: dict = {
        **{k: ContrastiveLearner._parameter_constraints[k] for k in _LEARNER_PARAMS},
        "hidden_dim": [POSITIVE_INT],
        "n_neg": [NON_NEGATIVE_INT],
        "output": OUTPUT_CONSTRAINT,
    }

    def __init__(
        self,
        hidden_dim: int = 512,
        *,
        n_neg: int = 3,
        n_epochs: int = 50,
        learning_rate: float = 3e-3,
        batch_size: int = 256,
        n_layers: int = 2,
        activation: str = "relu",
        dropout: float = 0.3,
        weight_decay: float = 0.0,
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
        self.n_neg = n_neg
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_layers = n_layers
        self.activation = activation
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.output = output
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _make_learner(self) -> ContrastiveLearner:
        shared = {name: getattr(self, name) for name in _LEARNER_PARAMS}
        return ContrastiveLearner(shape_out=self.hidden_dim, **shared)

    def _train(
        self, X: Any, y: Any, sample_weight: Any, *, classes: Any, partial: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        self._validate_params()
        first = not (partial and hasattr(self, "learner_"))
        X = check_X(self, X, reset=first)
        if partial and classes is None:
            classes = self._labels_so_far(y, X.shape[0], reset=first)
        elif first:
            self._open_labels = False
        targets = self._encode_labels(y, X.shape[0], reset=first, classes=classes, partial=partial)
        weights = check_sample_weight(sample_weight, X.shape[0])
        learner = self._make_learner() if first else self.learner_
        train = learner._partial_fit if partial else learner._fit
        with unchanged_on_error(learner):  # its settings too, if the pass fails
            # what a later pass reads from the parameters (the network and its optimiser are
            # built once, as in FeedForwardTuner): set_params on the tuner reaches the learner
            learner.set_params(batch_size=self.batch_size, verbose=self.verbose)
            network = {k: getattr(self, k) for k in ("n_layers", "activation", "dropout")}
            learner.set_params(shape_out=self.hidden_dim, **network)  # checked: fit to change
            learner._progress_label = type(self).__name__  # the bar names what the user ran
            try:
                self.learner_ = train(X, targets, None, weights, grouped=True, n_neg=self.n_neg)
            finally:  # for this call only: a learner saved or used alone names itself
                del learner._progress_label
        return X, weights

    def _labels_so_far(self, y: Any, n_samples: int, *, reset: bool) -> np.ndarray | None:
        """``classes`` for a ``partial_fit`` call that gave none: the labels seen so far
        (pairs are drawn inside a batch), unless the first call declared ``classes``."""
        labels = check_y(y, n_samples)
        if labels.ndim != 1:
            return None
        if reset:
            self._open_labels = True
            return labels
        if not getattr(self, "_open_labels", False):
            return None
        check_classification_targets(labels)
        check_same_label_type(labels, self.classes_, "the labels of the earlier batches are")
        self.classes_ = np.union1d(self.classes_, labels)
        return self.classes_

    def _tuned(self, X: np.ndarray) -> np.ndarray:
        return self.learner_.transform(X)

    @property
    def validation_scores_(self) -> list[float]:
        """Negated mean validation loss after every pass (with ``early_stopping``)."""
        return self.learner_.validation_scores_

    @property
    def best_validation_score_(self) -> float:
        """The best validation score (with ``early_stopping``)."""
        return self.learner_.best_validation_score_

    @property
    def best_iteration_(self) -> int:
        """The pass whose weights were kept (with ``early_stopping``)."""
        return self.learner_.best_iteration_

    @property
    def loss_curve_(self) -> list[float]:
        """Mean loss of every pass (from the learner)."""
        check_is_fitted(self)
        return self.learner_.loss_curve_

    @property
    def _n_features_out(self) -> int:
        return self._output_width(self.learner_.shape_out_)
