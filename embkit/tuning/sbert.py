"""Fine-tune a sentence-transformers body: ``SbertLearner`` on pairs, ``SbertTuner`` on labels.

``make_pipeline(SbertTuner(), LogisticRegression())`` is SetFit's recipe: contrastive
fine-tuning of the body on pairs sampled from a few labelled examples, then a classifier
on the tuned embeddings.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
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
    check_label_types,
    check_similarity,
    cpu_state,
    encode_body,
    linear_schedule,
    load_body,
    make_adamw,
    restore_device,
    seeded_torch,
    unchanged_on_error,
)
from embkit.tuning.pairs import make_grouped_pairs, make_pairs

__all__ = ["SbertLearner", "SbertTuner"]

_LOSSES = ("cosine", "contrastive")
_SAMPLINGS = ("in_batch", "random")
_MAX_SEED = 2**31 - 1
# in-batch groups hold at least two runs of two class-mates, so a step always has
# dissimilar pairs as well as similar ones
_MIN_GROUP = 4
# batch_size="auto": pairs per step. A few examples per class are over-fitted by many
# small steps, while larger training sets gain from them (measured on the validation
# splits of sst2 and emotion at 8, 24 and 64 examples per class: docs/fewshot.md)
_AUTO_BATCH_FEW = 32
_AUTO_BATCH_MANY = 16
_AUTO_MANY_PER_CLASS = 16


def _pair_loss(
    loss: str, a: torch.Tensor, b: torch.Tensor, y: torch.Tensor, margin: float
) -> torch.Tensor:
    cos = F.cosine_similarity(a, b, dim=1, eps=1e-8)
    if loss == "cosine":
        return F.mse_loss(cos, y)
    # contrastive: pull similar pairs together, push dissimilar ones beyond the margin
    distance = 1.0 - cos
    return (y * distance.pow(2) + (1.0 - y) * F.relu(margin - distance).pow(2)).mean() / 2


class SbertLearner(ClassNamePrefixFeaturesOutMixin, BaseEstimator):
    """Fine-tune a copy of a sentence-transformers body on text pairs with similarity scores.

    ``fit(texts1, texts2, y)`` trains a private copy of the body (the caller's model object
    is never changed) so that the cosine similarity of each pair approaches ``y``;
    ``transform`` encodes with the tuned body and ``predict`` gives the cosine similarity of
    pairs. Each text that appears several times in a batch is encoded once per step.

    Parameters
    ----------
    model : str, path or SentenceTransformer, default="all-MiniLM-L6-v2"
        The body to start from: a name (the default is bundled and works offline), a folder,
        or a loaded ``SentenceTransformer`` (deep-copied at fit time).
    loss : {"cosine", "contrastive"}, default="cosine"
        "cosine": mean squared error between the pair's cosine similarity and ``y``.
        "contrastive": ``y * d**2 + (1 - y) * max(0, margin - d)**2`` on the cosine distance
        ``d = 1 - cos``; ``y`` must lie in [0, 1].
    n_epochs : int, default=1
        Passes over the pairs made by ``fit``; ``partial_fit`` makes one pass per call.
    batch_size : int, default=16
        Pairs per optimisation step.
    shuffle : bool, default=True
        Shuffle the pairs at every pass. With ``False`` the pairs are trained in the order
        given, each step taking the next ``batch_size`` of them: a caller that lays out
        pairs sharing few texts side by side (as :class:`SbertTuner` does) makes each step
        encode only those texts.
    learning_rate : float, default=2e-5
        Peak AdamW learning rate.
    warmup_ratio : float, default=0.1
        Fraction of the steps of a ``fit`` (or of one ``partial_fit`` call) spent warming up
        linearly; the rate then decays linearly to zero.
    weight_decay : float, default=0.01
        AdamW weight decay.
    margin : float, default=0.5
        Margin of the "contrastive" loss.
    max_length : int or None, default=None
        Tokens kept per text; ``None`` uses the body's maximum sequence length.
    random_state : int, RandomState instance or None, default=None
        Seeds shuffling and dropout. Same seed, same data, CPU: identical weights. Torch's
        global random state is left as it was.
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time (stored in ``device_``).
    show_progress_bar : bool or None, default=None
        Progress bar over training steps; ``None`` shows it only on a terminal.

    Attributes
    ----------
    model_ : SentenceTransformer
        The tuned body.
    device_ : torch.device
        The device the body is trained on.
    loss_curve_ : list of float
        Mean loss of every pass.
    n_iter_ : int
        Passes made so far.
    t_ : int
        Optimisation steps made so far.

    Examples
    --------
    >>> from embkit import SbertLearner
    >>> learner = SbertLearner(batch_size=2, random_state=0)
    >>> learner = learner.fit(["a cat", "a dog"], ["a kitten", "a car"], [1.0, 0.0])
    >>> learner.transform(["a cat"]).shape
    (1, 384)
    >>> learner.predict(["a cat"], ["a kitten"]).shape
    (1,)
    """

    def __init__(
        self,
        model: Any = DEFAULT_MODEL,
        *,
        loss: str = "cosine",
        n_epochs: int = 1,
        batch_size: int = 16,
        shuffle: bool = True,
        learning_rate: float = 2e-5,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        margin: float = 0.5,
        max_length: int | None = None,
        random_state: Any = None,
        device: str = "auto",
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.loss = loss
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.learning_rate = learning_rate
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.margin = margin
        self.max_length = max_length
        self.random_state = random_state
        self.device = device
        self.show_progress_bar = show_progress_bar

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_choice(self.loss, "loss", _LOSSES)
        check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.batch_size, "batch_size")
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {self.shuffle!r}")
        check_positive_float(self.learning_rate, "learning_rate")
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        check_positive_float(self.margin, "margin")
        if check_positive_float(self.warmup_ratio, "warmup_ratio", allow_zero=True) >= 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}")
        if self.max_length is not None:
            check_positive_int(self.max_length, "max_length", minimum=2)

    def _check_pairs(self, texts1: Any, texts2: Any, y: Any) -> tuple[list, list, np.ndarray]:
        t1 = check_texts(texts1, name="texts1", allow_empty=False)
        t2 = check_texts(texts2, name="texts2", allow_empty=False)
        if len(t1) != len(t2):
            raise ValueError(
                f"texts1 and texts2 have different lengths: {len(t1)} and {len(t2)} texts"
            )
        sim = check_similarity(y, len(t1))
        low = 0.0 if self.loss == "contrastive" else -1.0
        if sim.min() < low or sim.max() > 1.0:
            raise ValueError(
                f"y must lie in [{low:g}, 1] for loss={self.loss!r}, "
                f"got values in [{sim.min():g}, {sim.max():g}]"
            )
        return t1, t2, sim

    # ---------------------------------------------------------------- training
    def fit(self, texts1: Any, texts2: Any, y: Any) -> SbertLearner:
        """Fine-tune a fresh copy of the body for ``n_epochs`` passes over the pairs.

        Parameters
        ----------
        texts1, texts2 : sequence of str, same length
            The two sides of each pair.
        y : array-like of float, shape (n_pairs,)
            Target similarity of each pair (1.0 similar, 0.0 dissimilar).

        Returns
        -------
        self : SbertLearner
        """
        with unchanged_on_error(self):
            self._check_params()
            pairs = self._check_pairs(texts1, texts2, y)
            device = resolve_device(self.device)
            body = load_body(self.model, device)
            body_max_length(body, self.max_length)  # refuses what the body cannot take
        self._initialize(body, device)
        n_steps = self.n_epochs * math.ceil(len(pairs[0]) / self.batch_size)
        scheduler = linear_schedule(self.optimizer_, n_steps, self.warmup_ratio)
        for _ in range(self.n_epochs):
            self._run_pass(*pairs, scheduler)
        return self

    def partial_fit(self, texts1: Any, texts2: Any, y: Any) -> SbertLearner:
        """One pass over the given pairs, continuing from the current weights.

        The first call copies the body and builds the optimiser. Each call warms the learning
        rate up and decays it over its own steps, so one call on a fresh learner equals ``fit``
        with ``n_epochs=1``.

        Parameters
        ----------
        texts1, texts2 : sequence of str, same length
        y : array-like of float, shape (n_pairs,)

        Returns
        -------
        self : SbertLearner
        """
        first = not hasattr(self, "model_")
        with unchanged_on_error(self):
            self._check_params()  # every call: set_params may have changed them
            pairs = self._check_pairs(texts1, texts2, y)
            if first:
                device = resolve_device(self.device)
                body = load_body(self.model, device)
            body_max_length(body if first else self.model_, self.max_length)  # refuses early
        if first:
            self._initialize(body, device)
        elif not hasattr(self, "optimizer_"):  # unpickled: the optimiser was not saved
            self.optimizer_ = self._make_optimizer()
        for group in self.optimizer_.param_groups:
            group["lr"] = group["initial_lr"] = float(self.learning_rate)
        n_steps = math.ceil(len(pairs[0]) / self.batch_size)
        scheduler = linear_schedule(self.optimizer_, n_steps, self.warmup_ratio)
        self._run_pass(*pairs, scheduler)
        return self

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return make_adamw(
            self.model_.parameters(),
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            device=self.device_,
        )

    def _initialize(self, body: Any, device: torch.device) -> None:
        for name in ("optimizer_", "loss_curve_", "n_iter_", "t_"):
            self.__dict__.pop(name, None)
        self.model_ = body
        self.device_ = device
        self._n_features_out = int(body.get_embedding_dimension())
        self._rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        self.optimizer_ = self._make_optimizer()
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0
        self.t_ = 0

    def _run_pass(
        self,
        texts1: list[str],
        texts2: list[str],
        y: np.ndarray,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> None:
        """One pass over the pairs; each distinct text of a batch is encoded once."""
        vocab: dict[str, int] = {}
        codes = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in texts1 + texts2),
            dtype=np.int64,
            count=2 * len(texts1),
        )
        left, right = codes[: len(texts1)], codes[len(texts1) :]
        max_length = body_max_length(self.model_, self.max_length)
        tokens = Tokenized(self.model_.tokenizer, list(vocab), max_length)
        target = torch.as_tensor(y, device=self.device_)
        generator = torch.Generator().manual_seed(int(self._rng.integers(_MAX_SEED)))
        order = (
            torch.randperm(len(y), generator=generator).numpy()
            if self.shuffle
            else np.arange(len(y))
        )
        batches = [order[s : s + self.batch_size] for s in range(0, len(y), self.batch_size)]
        disable = None if self.show_progress_bar is None else not self.show_progress_bar
        self.model_.train()
        total = 0.0
        with seeded_torch(self._rng, self.device_):
            for rows in tqdm(batches, desc=type(self).__name__, disable=disable, leave=False):
                ids, inverse = np.unique(
                    np.concatenate([left[rows], right[rows]]), return_inverse=True
                )
                emb = self.model_(tokens.batch(ids, self.device_))["sentence_embedding"]
                inverse = torch.as_tensor(inverse, device=self.device_)
                a, b = emb[inverse[: len(rows)]], emb[inverse[len(rows) :]]
                loss = _pair_loss(self.loss, a, b, target[rows], float(self.margin))
                self.optimizer_.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer_.step()
                scheduler.step()
                self.t_ += 1
                total += float(loss.detach()) * len(rows)
        self.model_.eval()
        self.n_iter_ += 1
        self.loss_curve_.append(total / len(y))

    # --------------------------------------------------------------- inference
    def transform(self, texts: Any) -> np.ndarray:
        """Encode texts with the tuned body.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        ndarray of shape (n_texts, n_dims), float32
        """
        check_is_fitted(self, "model_")
        texts = check_texts(texts, name="texts")
        return encode_body(
            self.model_,
            texts,
            batch_size=64,
            max_length=body_max_length(self.model_, self.max_length),
            device=self.device_,
        )

    def predict(self, texts1: Any, texts2: Any) -> np.ndarray:
        """Cosine similarity of each pair under the tuned body.

        Parameters
        ----------
        texts1, texts2 : sequence of str, same length

        Returns
        -------
        ndarray of shape (n_pairs,), float32
        """
        check_is_fitted(self, "model_")
        t1 = check_texts(texts1, name="texts1")
        t2 = check_texts(texts2, name="texts2")
        if len(t1) != len(t2):
            raise ValueError(
                f"texts1 and texts2 have different lengths: {len(t1)} and {len(t2)} texts"
            )
        unique = list(dict.fromkeys(t1 + t2))
        emb = torch.from_numpy(self.transform(unique))
        where = {t: i for i, t in enumerate(unique)}
        a = emb[[where[t] for t in t1]]
        b = emb[[where[t] for t in t2]]
        return F.cosine_similarity(a, b, dim=1, eps=1e-8).numpy()

    def score(self, texts1: Any, texts2: Any, y: Any) -> float:
        """Spearman rank correlation between predicted similarities and ``y``.

        Parameters
        ----------
        texts1, texts2 : sequence of str, same length
        y : array-like of float, shape (n_pairs,)

        Returns
        -------
        float
        """
        from scipy.stats import spearmanr

        pred = self.predict(texts1, texts2)
        sim = check_similarity(y, len(pred))
        if np.ptp(sim) == 0:
            raise ValueError("y is constant: a rank correlation needs at least two distinct values")
        return float(spearmanr(pred, sim).statistic)

    def save(self, path: Any) -> None:
        """Write the tuned body to a folder that ``SentenceEncoder(model=path)`` loads.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self, "model_")
        self.model_.save(str(path), create_model_card=False)

    # ---------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("optimizer_", None)
        body = state.pop("model_", None)
        if body is not None:
            state["_tuned_state"] = cpu_state(body)
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
            body.load_state_dict(tuned)
            body.eval()
            self.model_ = body

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
        return values, ({} if tuned is None else {"model_": tuned})

    def _set_saved_state(self, values: dict[str, Any], weights: dict[str, Any]) -> None:
        """Restore what :meth:`_get_saved_state` gave onto a bare instance (``cls.__new__``)."""
        if set(weights) - {"model_"}:
            raise ValueError(f"unexpected weights {sorted(set(weights) - {'model_'})}")
        tuned = weights.get("model_")
        self.__setstate__(values if tuned is None else {**values, "_tuned_state": tuned})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.non_deterministic = False
        return tags


class SbertTuner(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """SetFit's first phase as a pipeline step: tune the body on pairs sampled from labels.

    ``fit(texts, y)`` samples pairs from the labels (each example gets one similar partner
    and ``n_neg`` dissimilar ones per round), trains an :class:`SbertLearner` on them
    (``learner_``), and ``transform`` encodes with the tuned body.
    ``make_pipeline(SbertTuner(), LogisticRegression())`` is SetFit; by default the pairs of
    a step are drawn among a few texts that the step encodes once (``sampling="in_batch"``),
    which trains in about a quarter of SetFit's time on the same number of pairs.

    Parameters
    ----------
    model : str, path or SentenceTransformer, default="all-MiniLM-L6-v2"
        The body to start from (never changed in place).
    n_pairs_per_example : int, default=40
        Pairs drawn per labelled example (rounded up to whole rounds of ``1 + n_neg``);
        40 is what SetFit draws with ``num_iterations=20``.
    n_neg : int, default=1
        Dissimilar partners per similar one in each round.
    sampling : {"in_batch", "random"}, default="in_batch"
        How pairs meet in a step. "random": each example's partners are drawn from all the
        data (:func:`embkit.make_pairs`) and batches of ``batch_size`` pairs are shuffled,
        as SetFit does; a step encodes up to ``2 * batch_size`` texts. "in_batch": each
        step takes ``batch_size // (1 + n_neg)`` texts (at least 4; classes interleaved in
        runs of two class-mates) and pairs them among themselves
        (:func:`embkit.tuning.pairs.make_grouped_pairs`): the same number of pairs per step and
        per example, but a step encodes only those texts, about a quarter of the work with
        ``n_neg=1``.
    loss : {"cosine", "contrastive"}, default="cosine"
        Pair loss of the learner (see :class:`SbertLearner`).
    n_epochs : int, default=1
        Passes over the sampled pairs.
    batch_size : int or "auto", default="auto"
        Pairs per step (with ``sampling="in_batch"``, among ``batch_size // (1 + n_neg)``
        texts; below 4 texts the step grows to 4 texts and their ``4 * (1 + n_neg)`` pairs).
        "auto" takes 32 when the texts of the call have fewer than 16 examples per class
        on average, else 16: twice the steps for the same pairs once there is enough
        data not to over-fit them.
    learning_rate : float, default=5e-5
        Peak AdamW learning rate.
    warmup_ratio : float, default=0.1
        Fraction of steps spent warming up the learning rate.
    max_length : int or None, default=None
        Tokens kept per text; ``None`` uses the body's maximum.
    random_state : int, RandomState instance or None, default=None
        Seeds pair sampling, shuffling and dropout.
    device : str, default="auto"
        "auto" picks cuda, then mps, then cpu at fit time.
    show_progress_bar : bool or None, default=None
        Progress bar over training steps; ``None`` shows it only on a terminal.

    Attributes
    ----------
    learner_ : SbertLearner
        The learner holding the tuned body.
    classes_ : ndarray
        The labels seen (or declared with ``classes=``).

    Examples
    --------
    >>> from embkit import SbertTuner
    >>> texts = ["great film", "loved it", "awful film", "hated it"]
    >>> tuner = SbertTuner(n_pairs_per_example=2, batch_size=4, random_state=0)
    >>> tuner.fit_transform(texts, ["pos", "pos", "neg", "neg"]).shape
    (4, 384)
    """

    def __init__(
        self,
        model: Any = DEFAULT_MODEL,
        *,
        n_pairs_per_example: int = 40,
        n_neg: int = 1,
        sampling: str = "in_batch",
        loss: str = "cosine",
        n_epochs: int = 1,
        batch_size: int | str = "auto",
        learning_rate: float = 5e-5,
        warmup_ratio: float = 0.1,
        max_length: int | None = None,
        random_state: Any = None,
        device: str = "auto",
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.n_pairs_per_example = n_pairs_per_example
        self.n_neg = n_neg
        self.sampling = sampling
        self.loss = loss
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_ratio = warmup_ratio
        self.max_length = max_length
        self.random_state = random_state
        self.device = device
        self.show_progress_bar = show_progress_bar

    def _check_labels(self, texts: Any, y: Any) -> tuple[list[str], np.ndarray]:
        texts = check_texts(texts, name="X", allow_empty=False)
        if y is None:
            raise ValueError("SbertTuner requires y: the labels of the texts in X")
        check_label_types(y)
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D labels, got an array of shape {y.shape}")
        if len(y) != len(texts):
            raise ValueError(f"X and y have different lengths: {len(texts)} texts, {len(y)} labels")
        check_classification_targets(y)
        return texts, y

    def _pairs_per_step(self, y: np.ndarray) -> int:
        """``batch_size``, with "auto" resolved on the labels ``y`` of this call."""
        if isinstance(self.batch_size, str):
            if self.batch_size != "auto":
                raise ValueError(
                    f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}"
                )
            per_class = len(y) / len(np.unique(y))
            return _AUTO_BATCH_MANY if per_class >= _AUTO_MANY_PER_CLASS else _AUTO_BATCH_FEW
        return check_positive_int(self.batch_size, "batch_size")

    def _step_size(self, pairs_per_step: int) -> int:
        """Pairs per learner step: with ``sampling="in_batch"``, whole groups of texts."""
        if self.sampling != "in_batch":
            return pairs_per_step
        return self._group_size(pairs_per_step) * (1 + self.n_neg)

    def _group_size(self, pairs_per_step: int) -> int:
        """Texts per step with ``sampling="in_batch"``."""
        return max(_MIN_GROUP, pairs_per_step // (1 + self.n_neg))

    def _pairs(self, texts: list[str], y: np.ndarray, rng: np.random.Generator, step: int):
        check_positive_int(self.n_pairs_per_example, "n_pairs_per_example")
        check_positive_int(self.n_neg, "n_neg", minimum=0)
        check_choice(self.sampling, "sampling", _SAMPLINGS)
        rounds = math.ceil(self.n_pairs_per_example / (1 + self.n_neg))
        if self.sampling == "in_batch":
            idx1, idx2, sim = make_grouped_pairs(
                y,
                group_size=self._group_size(step),
                n_rounds=rounds,
                n_neg=self.n_neg,
                random_state=rng,
            )
        else:
            parts = [make_pairs(y, n_neg=self.n_neg, random_state=rng) for _ in range(rounds)]
            idx1, idx2, sim = (np.concatenate(p) for p in zip(*parts, strict=True))
        arr = np.asarray(texts, dtype=object)
        return arr[idx1].tolist(), arr[idx2].tolist(), sim

    def _new_learner(self, seed: int, step: int) -> SbertLearner:
        return SbertLearner(
            self.model,
            loss=self.loss,
            n_epochs=self.n_epochs,
            batch_size=self._step_size(step),
            shuffle=self.sampling != "in_batch",
            learning_rate=self.learning_rate,
            warmup_ratio=self.warmup_ratio,
            max_length=self.max_length,
            random_state=seed,
            device=self.device,
            show_progress_bar=self.show_progress_bar,
        )

    def fit(self, X: Any, y: Any) -> SbertTuner:
        """Sample pairs from the labels and fine-tune a fresh copy of the body on them.

        Parameters
        ----------
        X : sequence of str
            The texts.
        y : array-like of shape (n_texts,)
            Their labels (at least two classes; strings work).

        Returns
        -------
        self : SbertTuner
        """
        with unchanged_on_error(self):
            texts, y = self._check_labels(X, y)
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"y has a single class {classes.tolist()!r}: pairs need at least two classes"
                )
            rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
            step = self._pairs_per_step(y)
            pairs = self._pairs(texts, y, rng, step)
            learner = self._new_learner(int(rng.integers(_MAX_SEED)), step)
            learner.fit(*pairs)
        self._rng = rng
        self.learner_ = learner
        self.classes_ = classes
        self._n_features_out = learner._n_features_out
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> SbertTuner:
        """One pass over pairs sampled from this batch, continuing from the current body.

        Parameters
        ----------
        X : sequence of str
        y : array-like of shape (n_texts,)
            Labels; the batch needs at least two classes to form dissimilar pairs.
        classes : array-like, default=None
            Every label the stream may contain; required on the first call.

        Returns
        -------
        self : SbertTuner
        """
        first = not hasattr(self, "learner_")
        with unchanged_on_error(self):
            texts, y = self._check_labels(X, y)
            if first:
                if classes is None:
                    raise ValueError(
                        "classes must be passed on the first call to partial_fit: all the "
                        "labels the stream may contain, e.g. classes=['neg', 'pos']"
                    )
                declared = np.unique(np.asarray(classes))
                if len(declared) < 2:
                    raise ValueError(f"classes must hold at least two labels, got {classes!r}")
                rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
            else:
                declared, rng = self.classes_, self._rng
                if classes is not None and not np.array_equal(np.unique(classes), declared):
                    raise ValueError(
                        f"classes={list(classes)!r} differs from the classes of the first "
                        f"partial_fit call, {declared.tolist()!r}"
                    )
            unseen = np.setdiff1d(np.unique(y), declared)
            if unseen.size:
                raise ValueError(
                    f"y contains labels that are not in classes_ {declared.tolist()!r}: "
                    f"{unseen.tolist()!r}"
                )
            if len(np.unique(y)) < 2:
                raise ValueError("y has a single class in this batch: pairs need two classes")
            step = self._pairs_per_step(y)
            state = rng.bit_generator.state
            pairs = self._pairs(texts, y, rng, step)
            learner = (
                self._new_learner(int(rng.integers(_MAX_SEED)), step) if first else self.learner_
            )
            previous_step, learner.batch_size = learner.batch_size, self._step_size(step)
            try:
                learner.partial_fit(*pairs)
            except BaseException:
                rng.bit_generator.state = state
                learner.batch_size = previous_step
                raise
        self._rng = rng
        self.learner_ = learner
        self.classes_ = declared
        self._n_features_out = learner._n_features_out
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Encode texts with the tuned body.

        Parameters
        ----------
        X : sequence of str

        Returns
        -------
        ndarray of shape (n_texts, n_dims), float32
        """
        check_is_fitted(self, "learner_")
        return self.learner_.transform(check_texts(X, name="X"))

    def save(self, path: Any) -> None:
        """Write the tuned body to a folder that ``SentenceEncoder(model=path)`` loads."""
        check_is_fitted(self, "learner_")
        self.learner_.save(path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        tags.non_deterministic = False
        return tags
