"""``FineTuneClassifier``: train a transformer body and a linear head end to end on labels."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch.nn import functional as F
from tqdm.auto import tqdm

from embkit._core.device import resolve_device
from embkit._core.validation import (
    check_choice,
    check_positive_float,
    check_positive_int,
    check_texts,
)
from embkit._training.body import (
    DEFAULT_MODEL,
    Tokenized,
    body_max_length,
    bucketed_batches,
    check_label_types,
    cpu_state,
    linear_schedule,
    load_body,
    make_adamw,
    restore_device,
    seeded_torch,
    unchanged_on_error,
)
from embkit._training.labels import _check_y
from embkit._training.nn import init_linear_

__all__ = ["FineTuneClassifier"]

_POOLINGS = ("mean", "cls", "max")
_MAX_SEED = 2**31 - 1
_META_FILE = "embkit_finetune.json"
_HEAD_FILE = "head.pt"


def _pool(tokens: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "cls":
        return tokens[:, 0]
    m = mask.unsqueeze(-1).to(tokens.dtype)
    if pooling == "max":
        return tokens.masked_fill(m == 0, torch.finfo(tokens.dtype).min).amax(dim=1)
    return (tokens * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


class FineTuneClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tune a transformer body and a linear head end to end: texts in, labels out.

    The texts go through the body's transformer, are pooled (``pooling``) and a linear layer
    gives one logit per class; body and head are trained together with cross-entropy on the
    logits (two classes are a two-column softmax, so binary and multi-class work alike).
    AdamW with linear warm-up and decay; batches group texts of similar length and are padded
    to their own longest text. The caller's model object is never changed.

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
        Fraction of the training texts held out (stratified) to score accuracy after every
        epoch (``validation_scores_``). ``None`` holds none out, unless ``early_stopping``.
    early_stopping : bool, default=False
        Stop when the validation accuracy has not improved for ``n_iter_no_change`` epochs
        and keep the best epoch's weights. Holds out 10% when ``validation_fraction`` is None.
    n_iter_no_change : int, default=1
        Epochs without improvement tolerated by early stopping.
    class_weight : None, "balanced" or dict, default=None
        Per-class loss weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the head's initialisation, the validation split, shuffling and dropout. Same
        seed, same data, CPU: identical weights. Torch's global random state is restored.
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

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_choice(self.pooling, "pooling", _POOLINGS)
        check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.max_length, "max_length", minimum=2)
        check_positive_int(self.n_iter_no_change, "n_iter_no_change")
        check_positive_float(self.learning_rate, "learning_rate")
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        if check_positive_float(self.warmup_ratio, "warmup_ratio", allow_zero=True) >= 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}")
        vf = self.validation_fraction
        if vf is not None and not 0 < check_positive_float(vf, "validation_fraction") < 1:
            raise ValueError(f"validation_fraction must be in (0, 1) or None, got {vf!r}")
        if not isinstance(self.early_stopping, bool):
            raise TypeError(f"early_stopping must be True or False, got {self.early_stopping!r}")
        cw = self.class_weight
        if not (cw is None or (isinstance(cw, str) and cw == "balanced") or isinstance(cw, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")

    def _check_data(self, X: Any, y: Any) -> tuple[list[str], np.ndarray]:
        texts = check_texts(X, name="X", allow_empty=False)
        check_label_types(y)
        y = _check_y(y, len(texts))
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D labels, got an array of shape {y.shape}")
        check_classification_targets(y)
        return texts, y

    def _codes(self, y: np.ndarray) -> np.ndarray:
        codes = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels that are not in classes_ {self.classes_.tolist()!r}: "
                f"{np.unique(y[unknown]).tolist()!r}"
            )
        return codes

    def _set_classes(self, y: np.ndarray, classes: Any) -> None:
        labels = np.unique(np.asarray(classes) if classes is not None else y)
        if len(labels) < 2:
            raise ValueError(
                f"a classifier needs at least two classes; y has only {labels.tolist()!r}"
            )
        if classes is not None:
            labels_type = np.asarray(classes).dtype.kind in "OUS"
            if labels_type != (y.dtype.kind in "OUS"):
                raise TypeError(
                    f"y holds {'strings' if y.dtype.kind in 'OUS' else 'numbers'} but classes "
                    f"holds {'strings' if labels_type else 'numbers'}: they must be of one type"
                )
        self.classes_ = labels

    def _class_weights(self, codes: np.ndarray) -> np.ndarray | None:
        """Weight of each class code for the loss (None: all equal); checks ``class_weight``."""
        cw = self.class_weight
        if cw is None:
            return None
        k = len(self.classes_)
        if isinstance(cw, str):
            present = np.unique(codes)
            weights = np.ones(k)
            weights[present] = compute_class_weight("balanced", classes=present, y=codes)
        else:
            unknown = set(cw) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight has labels not in classes_: {sorted(unknown)!r}")
            weights = np.array([float(cw.get(c, 1.0)) for c in self.classes_.tolist()])
        return weights

    def _weight_tensor(self, weights: np.ndarray | None) -> torch.Tensor | None:
        if weights is None:
            return None
        return torch.as_tensor(weights, dtype=torch.float32, device=self.device_)

    # ---------------------------------------------------------------- training
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
        with unchanged_on_error(self):
            self._check_params()
            texts, y = self._check_data(X, y)
            self._set_classes(y, None)
            codes = self._codes(y)
            device = resolve_device(self.device)
            rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
            train, valid = self._split(codes, rng)
            class_weights = self._class_weights(codes[train])
            body = load_body(self.model, device)
            tokens = Tokenized(body.tokenizer, texts, body_max_length(body, self.max_length))
        self._initialize(body, device, rng)
        weights = self._weight_tensor(class_weights)
        n_steps = self.n_epochs * math.ceil(len(train) / self.batch_size)
        scheduler = linear_schedule(self.optimizer_, n_steps, self.warmup_ratio)
        self.validation_scores_ = [] if valid is not None else None
        self.best_validation_score_ = None
        best_state, stale = None, 0
        for _ in range(self.n_epochs):
            self._run_epoch(tokens, train, codes, weights, scheduler)
            if valid is None:
                continue
            proba = self._proba_tokens(tokens, valid)
            score = float(np.mean(proba.argmax(axis=1) == codes[valid]))
            self.validation_scores_.append(score)
            if self.best_validation_score_ is None or score > self.best_validation_score_:
                self.best_validation_score_, stale = score, 0
                if self.early_stopping:
                    best_state = (cpu_state(self.model_), cpu_state(self.head_))
            else:
                stale += 1
                if self.early_stopping and stale >= self.n_iter_no_change:
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state[0])
            self.head_.load_state_dict(best_state[1])
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> FineTuneClassifier:
        """One epoch over the given texts, continuing from the current body and head.

        Each call warms the learning rate up and decays it over its own steps; one call on a
        fresh classifier equals ``fit`` with ``n_epochs=1`` (no validation split).

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
        first = not hasattr(self, "model_")
        with unchanged_on_error(self):
            self._check_params()  # every call: set_params may have changed them
            texts, y = self._check_data(X, y)
            if first:
                if classes is None:
                    raise ValueError(
                        "classes must be passed on the first call to partial_fit: all the "
                        "labels the stream may contain, e.g. classes=['neg', 'pos']"
                    )
                self._set_classes(y, classes)
            elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"classes={list(classes)!r} differs from the classes of the first "
                    f"partial_fit call, {self.classes_.tolist()!r}"
                )
            codes = self._codes(y)
            class_weights = self._class_weights(codes)
            if first:
                device = resolve_device(self.device)
                rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
                body = load_body(self.model, device)
            else:
                body = self.model_
            tokens = Tokenized(body.tokenizer, texts, body_max_length(body, self.max_length))
        if first:
            self._initialize(body, device, rng)
            self.validation_scores_ = None
            self.best_validation_score_ = None
        elif not hasattr(self, "optimizer_"):  # unpickled: the optimiser was not saved
            self.optimizer_ = self._make_optimizer()
        for group in self.optimizer_.param_groups:
            group["lr"] = group["initial_lr"] = float(self.learning_rate)
        rows = np.arange(len(texts))
        scheduler = linear_schedule(
            self.optimizer_, math.ceil(len(rows) / self.batch_size), self.warmup_ratio
        )
        self._run_epoch(tokens, rows, codes, self._weight_tensor(class_weights), scheduler)
        return self

    def _split(
        self, codes: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = 0.1
        rows = np.arange(len(codes))
        if fraction is None:
            return rows, None
        from sklearn.model_selection import train_test_split

        try:
            train, valid = train_test_split(
                rows,
                test_size=fraction,
                stratify=codes,
                random_state=int(rng.integers(_MAX_SEED)),
            )
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={fraction} cannot hold out a stratified validation set "
                f"from {len(codes)} texts: {exc}"
            ) from exc
        return np.sort(train), np.sort(valid)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        params = list(self.model_[0].parameters()) + list(self.head_.parameters())
        return make_adamw(
            params,
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            device=self.device_,
        )

    def _new_head(self, dim: int, device: torch.device) -> torch.nn.Linear:
        return torch.nn.Linear(dim, len(self.classes_), device="meta").to_empty(device=device)

    def _initialize(self, body: Any, device: torch.device, rng: np.random.Generator) -> None:
        for name in ("optimizer_", "loss_curve_", "n_iter_", "t_"):
            self.__dict__.pop(name, None)
        self.model_ = body
        self.device_ = device
        self._rng = rng
        self.head_ = self._new_head(int(body.get_embedding_dimension()), device)
        generator = torch.Generator(device=device).manual_seed(int(rng.integers(_MAX_SEED)))
        init_linear_(self.head_, generator)
        self.optimizer_ = self._make_optimizer()
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0
        self.t_ = 0

    def _logits(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = self.model_[0](features)["token_embeddings"]
        return self.head_(_pool(tokens, features["attention_mask"], self.pooling))

    def _run_epoch(
        self,
        tokens: Tokenized,
        rows: np.ndarray,
        codes: np.ndarray,
        class_weight: torch.Tensor | None,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> None:
        batches = bucketed_batches(tokens.lengths[rows], self.batch_size, self._rng)
        target = torch.as_tensor(codes, dtype=torch.long, device=self.device_)
        disable = None if self.show_progress_bar is None else not self.show_progress_bar
        self.model_.train()
        self.head_.train()
        total = 0.0
        with seeded_torch(self._rng, self.device_):
            for batch in tqdm(batches, desc=type(self).__name__, disable=disable, leave=False):
                idx = rows[batch]
                logits = self._logits(tokens.batch(idx, self.device_))
                loss = F.cross_entropy(logits, target[idx], weight=class_weight)
                self.optimizer_.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer_.step()
                scheduler.step()
                self.t_ += 1
                total += float(loss.detach()) * len(idx)
        self.model_.eval()
        self.head_.eval()
        self.n_iter_ += 1
        self.loss_curve_.append(total / len(rows))

    # --------------------------------------------------------------- inference
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
            self.model_.tokenizer, texts, body_max_length(self.model_, self.max_length)
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

    # ------------------------------------------------------------- persistence
    def save(self, path: Any) -> None:
        """Write the fitted classifier to a folder; :meth:`load` reads it back.

        The body is saved as a sentence-transformers folder (``path/body``), so it can also
        be used alone, e.g. ``SentenceEncoder(model=str(Path(path) / "body"))``. Parameters
        are written as tagged JSON (as :func:`embkit.save` writes them), so label keys of
        ``class_weight`` and a ``RandomState`` or ``Generator`` come back as they were.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self, "model_")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.model_.save(str(folder / "body"), create_model_card=False)
        torch.save(cpu_state(self.head_), folder / _HEAD_FILE)
        from embkit.io.tagged_json import json_value

        params = self.get_params()
        if not isinstance(params["model"], str):  # a model object: load the saved body
            params["model"] = None
        meta = {
            "params": json_value(params, "FineTuneClassifier parameters"),
            "classes": self.classes_.tolist(),
            "fitted": {
                k: getattr(self, k)
                for k in ("loss_curve_", "validation_scores_", "best_validation_score_", "n_iter_")
            },
        }
        (folder / _META_FILE).write_text(json.dumps(meta, indent=1, default=str))

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
        folder = Path(path)
        meta_file = folder / _META_FILE
        if not meta_file.is_file():
            raise ValueError(f"{folder} holds no saved FineTuneClassifier ({_META_FILE} missing)")
        from embkit.io.tagged_json import from_json_value

        meta = json.loads(meta_file.read_text())
        params = from_json_value(meta["params"], str(meta_file))
        if params.get("model") is None:
            params["model"] = str(folder / "body")
        params["device"] = device
        est = cls(**params)
        est.classes_ = np.asarray(meta["classes"])
        est.device_ = resolve_device(device)
        est.model_ = load_body(str(folder / "body"), est.device_).eval()
        est.head_ = est._new_head(int(est.model_.get_embedding_dimension()), est.device_)
        est.head_.load_state_dict(torch.load(folder / _HEAD_FILE, map_location=est.device_))
        for key, value in meta["fitted"].items():
            setattr(est, key, value)
        est.t_ = 0
        est._rng = np.random.default_rng(check_random_state(est.random_state).randint(2**31))
        return est

    # ---------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("optimizer_", None)
        body = state.pop("model_", None)
        head = state.pop("head_", None)
        if body is not None:
            state["_tuned_state"] = (cpu_state(body), cpu_state(head))
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        tuned = state.pop("_tuned_state", None)
        if "device_" in state:
            state["device_"] = restore_device(state["device_"])
        super().__setstate__(state)
        if tuned is not None:
            body = load_body(self.model, self.device_)
            body.load_state_dict(tuned[0])
            self.model_ = body.eval()
            self.head_ = self._new_head(int(body.get_embedding_dimension()), self.device_)
            self.head_.load_state_dict(tuned[1])
            self.head_.eval()

    # ------------------------------------------------------------ embkit.save
    def _get_saved_state(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """``(values, weights)`` for :func:`embkit.save`: what the pickle keeps, weights apart."""
        if not isinstance(self.model, (str, os.PathLike)):
            raise TypeError(
                f"its model parameter is a {type(self.model).__name__} object; pass the "
                "model's name or folder as model= to save it safely"
            )
        values = self.__getstate__()
        tuned = values.pop("_tuned_state", None)
        return values, ({} if tuned is None else {"model_": tuned[0], "head_": tuned[1]})

    def _set_saved_state(self, values: dict[str, Any], weights: dict[str, Any]) -> None:
        """Restore what :meth:`_get_saved_state` gave onto a bare instance (``cls.__new__``)."""
        if weights and set(weights) != {"model_", "head_"}:
            raise ValueError(f"expected weights model_ and head_, got {sorted(weights)}")
        if weights:
            values = {**values, "_tuned_state": (weights["model_"], weights["head_"])}
        self.__setstate__(values)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        tags.non_deterministic = False
        return tags
