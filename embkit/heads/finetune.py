"""``FineTuneClassifier``: train a transformer body and a linear head end to end on labels.

The loop and saved state are :class:`embkit._training.body.BodyEstimatorBase`'s, the
labels :class:`embkit._training.labels.LabelMixin`'s; this module adds the head, pooling,
the validation split and early stopping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from torch.nn import functional as F

from embkit._core.device import resolve_device
from embkit._core.models import DEFAULT_MODEL, embedding_dimension, quiet_loading
from embkit._core.seeding import MAX_INT32_SEED, torch_generator
from embkit._core.validation import MAX_LENGTH, OPEN_UNIT, POSITIVE_INT, check_texts
from embkit._training.body import BodyEstimatorBase, body_source, save_folder
from embkit._training.early_stopping import holdout_indices
from embkit._training.labels import CLASS_WEIGHT_CONSTRAINT, LabelMixin
from embkit._training.nn import cpu_state, init_linear_, pool_tokens
from embkit._training.tokens import Tokenized, body_max_length, bucketed_batches
from embkit._training.torch_base import weighted_mean

__all__ = ["FineTuneClassifier"]

_POOLINGS = ("mean", "cls", "max")
_SAVED_FILE = "classifier.embkit"


@dataclass
class _Labelled:
    """The texts of one call (tokenised once) with their class codes and split."""

    n: int
    tokens: Tokenized
    rows: np.ndarray
    codes: np.ndarray
    target: torch.Tensor
    class_weight: torch.Tensor | None
    valid: np.ndarray | None = None
    best_weights: tuple[dict, dict] | None = None
    stale: int = 0


class FineTuneClassifier(LabelMixin, ClassifierMixin, BodyEstimatorBase):
    """Fine-tune a transformer body and a linear head end to end: texts in, labels out.

    Token vectors are pooled and a linear layer gives one logit per class; body and head
    train together with cross-entropy (AdamW, linear warm-up and decay), on batches of
    texts of similar length. The caller's model object is never changed.

    Parameters
    ----------
    model : str, path or SentenceTransformer, default="all-MiniLM-L6-v2"
        The body to start from: a name (the default is bundled), a folder or a loaded
        ``SentenceTransformer`` (deep-copied at fit time).
    pooling : {"mean", "cls", "max"}, default="mean"
        How token vectors become one vector per text.
    n_epochs : int, default=2
        Passes over the training data made by ``fit``.
    learning_rate : float, default=5e-5
        Peak AdamW learning rate (body and head).
    batch_size : int, default=32
        Texts per optimisation step.
    max_length : int, default=64
        Tokens kept per text.
    warmup_ratio : float, default=0.1
        Fraction of the steps spent warming up linearly; the rate then decays to zero.
    weight_decay : float, default=0.01
        AdamW weight decay.
    validation_fraction : float or None, default=None
        Fraction of the training texts held out (stratified as the tuners' hold-out, so a
        few texts per class work) to score accuracy after every epoch
        (``validation_scores_``). ``None`` holds none out, unless ``early_stopping``.
    early_stopping : bool, default=False
        Stop when the validation accuracy has not improved for ``n_iter_no_change`` epochs
        and keep the best epoch's weights. Holds out 10% when ``validation_fraction`` is None.
    n_iter_no_change : int, default=1
        Epochs without improvement tolerated by early stopping.
    class_weight : None, "balanced" or dict, default=None
        Per-class loss weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the head, the validation split, shuffling and dropout (same seed, data and
        CPU: same weights).
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time (stored in ``device_``).
    show_progress_bar : bool or None, default=None
        Progress bar over training steps; ``None`` shows it only on a terminal.

    Attributes
    ----------
    classes_ : ndarray
        Class labels, in the order of the ``predict_proba`` columns.
    model_ : SentenceTransformer
        The tuned body (``save`` writes it as a folder any sentence-transformers loader reads).
    head_ : torch.nn.Linear
        The classification layer.
    loss_curve_ : list of float
        Mean training loss of every epoch.
    validation_scores_ : list of float or None
        Validation accuracy after every epoch, when a validation set was held out.
    best_validation_score_ : float or None
        Best validation accuracy (early stopping keeps that epoch's weights).
    n_iter_ : int
        Epochs made.
    t_ : int
        Optimisation steps made.
    device_ : torch.device
        The device the model is trained on.

    Examples
    --------
    >>> from embkit import FineTuneClassifier
    >>> texts = ["great film", "loved it", "awful film", "hated it"]
    >>> clf = FineTuneClassifier(n_epochs=1, batch_size=4, random_state=0)
    >>> clf = clf.fit(texts, ["pos", "pos", "neg", "neg"])
    >>> clf.predict_proba(["a great film"]).shape
    (1, 2)
    >>> clf.classes_.tolist()
    ['neg', 'pos']
    """

    def __init__(
        self,
        model: Any = DEFAULT_MODEL,
        *,
        pooling: str = "mean",
        n_epochs: int = 2,
        learning_rate: float = 5e-5,
        batch_size: int = 32,
        max_length: int = 64,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        validation_fraction: float | None = None,
        early_stopping: bool = False,
        n_iter_no_change: int = 1,
        class_weight: Any = None,
        random_state: Any = None,
        device: str = "auto",
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.pooling = pooling
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.random_state = random_state
        self.device = device
        self.show_progress_bar = show_progress_bar

    _weight_names = ("model_", "head_")
    _accepts_label_matrix = False

    _parameter_constraints: dict = {
        **BodyEstimatorBase._parameter_constraints,
        "pooling": [StrOptions(set(_POOLINGS))],
        "max_length": [MAX_LENGTH],
        "validation_fraction": [OPEN_UNIT, None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [POSITIVE_INT],
        "class_weight": CLASS_WEIGHT_CONSTRAINT,
    }

    def _check_input(
        self, X: Any, y: Any, classes: Any = None, *, reset: bool, partial: bool
    ) -> tuple[list[str], np.ndarray]:
        texts = check_texts(X, name="X", allow_empty=False)
        codes = self._encode_labels(y, len(texts), reset=reset, classes=classes, partial=partial)
        return texts, codes

    def fit(self, X: Any, y: Any) -> FineTuneClassifier:
        """Fine-tune a fresh copy of the body with a new head for ``n_epochs`` epochs.

        Parameters
        ----------
        X : sequence of str
            Training texts.
        y : array-like of shape (n_texts,)
            Their labels (strings work; at least two classes).

        Returns
        -------
        self : FineTuneClassifier
        """
        return self._fit(X, y)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> FineTuneClassifier:
        """One epoch over the given texts, continuing from the current body and head.

        Each call warms the rate up and decays it over its own steps: one call on a fresh
        classifier equals ``fit`` with ``n_epochs=1`` (no validation split).

        Parameters
        ----------
        X : sequence of str
        y : array-like of shape (n_texts,)
        classes : array-like, default=None
            Every label the stream can contain; required on the first call.

        Returns
        -------
        self : FineTuneClassifier
        """
        return self._partial_fit(X, y, classes=classes)

    def _prepare_data(
        self, checked: Any, body: Any, device: torch.device, rng: Any, *, fit: bool
    ) -> _Labelled:
        texts, codes = checked
        train, valid = self._split(codes, rng) if fit else (np.arange(len(codes)), None)
        class_weight = self._class_weight_tensor(codes[train], device)  # refused before a warning
        return _Labelled(
            n=len(train),
            tokens=Tokenized(
                body.tokenizer,
                texts,
                body_max_length(body, self.max_length),
                warn_as=self._model_name(),
            ),
            rows=train,
            codes=codes,
            target=torch.as_tensor(codes, dtype=torch.long, device=device),
            class_weight=class_weight,
            valid=valid,
        )

    def _split(
        self, codes: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = 0.1
        if fraction is None:
            return np.arange(len(codes)), None
        if len(codes) and np.bincount(codes).max() < 2:
            raise ValueError(
                f"validation_fraction={fraction}: every class has a single text, so none can "
                "be held out without leaving its class out of training; pass more texts or "
                "validation_fraction=None and early_stopping=False"
            )
        # the numeric estimators' stratified hold-out: works on few-shot data too
        return holdout_indices(len(codes), float(fraction), rng, np.asarray(codes))

    def _init_head(self, data: _Labelled, rng: Any) -> None:
        self._build_head()
        init_linear_(self.head_, torch_generator(rng, self.device_, MAX_INT32_SEED))
        self.validation_scores_ = [] if data.valid is not None else None
        self.best_validation_score_ = None

    def _build_head(self) -> None:
        # the width of the pooled token vectors the head reads, not of encode()'s output
        # (a Dense module or truncate_dim changes that one)
        dim = int(embedding_dimension(self.model_[0]))
        self.head_ = torch.nn.Linear(dim, len(self.classes_), device="meta").to_empty(
            device=self.device_
        )

    def _trainable_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.model_[0].parameters()) + list(self.head_.parameters())

    def _batches(self, data: _Labelled) -> list[np.ndarray]:
        return bucketed_batches(data.tokens.lengths[data.rows], self.batch_size, self._rng)

    def _batch_loss(self, data: _Labelled, batch: np.ndarray) -> tuple[torch.Tensor, int]:
        idx = data.rows[batch]
        logits = self._logits(data.tokens.batch(idx, self.device_))
        target = data.target[idx]
        loss = F.cross_entropy(logits, target, reduction="none")
        weight = None if data.class_weight is None else data.class_weight[target]
        return weighted_mean(loss, weight), len(idx)  # a batch of weight-0 rows is 0, not NaN

    def _epoch_end(self, data: _Labelled) -> bool:
        """Score the validation rows; keep the best weights; early stopping."""
        if data.valid is None:
            return False
        proba = self._proba_tokens(data.tokens, data.valid)
        score = float(np.mean(proba.argmax(axis=1) == data.codes[data.valid]))
        self.validation_scores_.append(score)
        if self.best_validation_score_ is None or score > self.best_validation_score_:
            self.best_validation_score_, data.stale = score, 0
            if self.early_stopping:
                data.best_weights = (cpu_state(self.model_), cpu_state(self.head_))
            return False
        data.stale += 1
        return self.early_stopping and data.stale >= self.n_iter_no_change

    def _fit_end(self, data: _Labelled) -> None:
        if data.best_weights is not None:
            self.model_.load_state_dict(data.best_weights[0])
            self.head_.load_state_dict(data.best_weights[1])

    def _logits(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = self.model_[0](features)["token_embeddings"]
        pooled = pool_tokens(tokens, features["attention_mask"], self.pooling)
        return self.head_(pooled.to(self.head_.weight.dtype))  # a half-precision body too

    def _proba_tokens(self, tokens: Tokenized, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), len(self.classes_)), dtype=np.float32)
        self.model_.eval()
        self.head_.eval()
        with torch.inference_mode():
            for batch in bucketed_batches(tokens.lengths[rows], 128, None):
                logits = self._logits(tokens.batch(rows[batch], self.device_))
                out[batch] = torch.softmax(logits.float(), dim=1).cpu().numpy()
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities; rows sum to 1, columns in the order of ``classes_``.

        Parameters
        ----------
        X : sequence of str

        Returns
        -------
        ndarray of shape (n_texts, n_classes), float32
        """
        check_is_fitted(self, "model_")
        texts = check_texts(X, name="X")
        if not texts:
            return np.empty((0, len(self.classes_)), dtype=np.float32)
        tokens = Tokenized(
            self.model_.tokenizer,
            texts,
            body_max_length(self.model_, self.max_length),
            warn_as=self._model_name(),
        )
        return self._proba_tokens(tokens, np.arange(len(texts)))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (values of ``classes_``).

        Parameters
        ----------
        X : sequence of str

        Returns
        -------
        ndarray of shape (n_texts,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def save(self, path: Any) -> None:
        """Write the fitted classifier to a folder; :meth:`load` reads it back.

        The folder holds ``classifier.embkit`` (:func:`embkit.save`) and the body as a
        sentence-transformers folder, ``path/body``, that ``SentenceEncoder`` can load.

        Parameters
        ----------
        path : str or path-like
        """
        import copy

        from embkit.io.persistence import save

        check_is_fitted(self, "model_")
        folder = save_folder(path)
        with quiet_loading():  # transformers draws a bar while it writes the weights
            self.model_.save(str(folder / "body"), create_model_card=False)
        est = self
        if not isinstance(self.model, (str, os.PathLike)):  # a model object: name the copy
            est = copy.copy(self)
            est.model = str((folder / "body").resolve())  # found from any working folder
        with body_source(folder / "body"):  # its weights are in that folder: not twice
            save(est, folder / _SAVED_FILE)

    @classmethod
    def load(cls, path: Any, *, device: str = "auto") -> FineTuneClassifier:
        """Read a classifier written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
        device : str, default="auto"
            Where to put the model.

        Returns
        -------
        FineTuneClassifier
        """
        from embkit.io.persistence import load

        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a folder path (str or path-like), got {path!r}")
        saved = Path(path).expanduser() / _SAVED_FILE
        if not saved.is_file():
            raise ValueError(f"{path} holds no saved FineTuneClassifier ({_SAVED_FILE} missing)")
        with body_source(saved.parent / "body"):  # the folder's own body, not ``model``
            est = load(saved)
        if not isinstance(est, cls):
            raise ValueError(f"{saved} holds a {type(est).__name__}, not a {cls.__name__}")
        est.device = device
        est.device_ = resolve_device(device)
        est.model_.to(est.device_)
        est.head_.to(est.device_)
        return est

    @classmethod
    def _unit_test_params(cls) -> dict:
        """Cheap constructor arguments for tests/test_text_estimators.py (seconds on the CPU)."""
        return dict(n_epochs=1, batch_size=4, max_length=16, random_state=0, device="cpu")
