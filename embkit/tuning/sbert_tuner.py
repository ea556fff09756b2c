"""``SbertTuner``: SetFit's first phase as a pipeline step.

Pairs are sampled from labelled texts (:mod:`embkit.tuning.pairs`) and an
:class:`~embkit.tuning.sbert.SbertLearner` is fine-tuned on them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from embkit._core.models import DEFAULT_MODEL
from embkit._core.seeding import MAX_INT32_SEED, draw_seed, make_rng
from embkit._core.validation import (
    HALF_OPEN_UNIT,
    MAX_LENGTH,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    check_texts,
)
from embkit._training.labels import LabelMixin, check_y
from embkit._training.rollback import unchanged_on_error
from embkit.tuning.pairs import make_grouped_pairs, make_pairs
from embkit.tuning.sbert import LOSS_CONSTRAINT, SbertLearner

__all__ = ["SbertTuner"]

# in-batch groups hold at least two runs of two class-mates, so a step always has
# dissimilar pairs as well as similar ones
_MIN_GROUP = 4
# "auto" parameters: (value below, value from) 16 examples per class; see docs/fewshot.md
_AUTO_MANY_PER_CLASS = 16
_AUTO = {
    "n_pairs_per_example": (16, 40),
    "batch_size": (32, 16),
    "learning_rate": (1e-4, 5e-5),
}


class SbertTuner(LabelMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """SetFit's first phase as a pipeline step: tune the body on pairs sampled from labels.

    ``fit(texts, y)`` samples pairs from the labels (each example gets one similar partner
    and ``n_neg`` dissimilar ones per round), trains an :class:`SbertLearner` on them
    (``learner_``), and ``transform`` encodes with the tuned body.
    ``make_pipeline(SbertTuner(), LogisticRegression())`` is SetFit (docs/fewshot.md).

    Parameters
    ----------
    model : str, path or SentenceTransformer, default="all-MiniLM-L6-v2"
        The body to start from (never changed in place).
    n_pairs_per_example : int or "auto", default="auto"
        Pairs drawn per labelled example (rounded up to whole rounds of ``1 + n_neg``).
        "auto": 16 when the call's texts have fewer than 16 examples per class on average,
        else 40 (SetFit's ``num_iterations=20``).
    n_neg : int, default=1
        Dissimilar partners per similar one in each round.
    sampling : {"in_batch", "random"}, default="in_batch"
        "random": partners drawn from all the data (:func:`embkit.make_pairs`), shuffled
        batches of ``batch_size`` pairs, as SetFit. "in_batch": each step pairs
        ``batch_size // (1 + n_neg)`` texts (at least 4) among themselves
        (:func:`embkit.tuning.pairs.make_grouped_pairs`), so it encodes only those.
    loss : {"cosine", "contrastive"}, default="cosine"
        Pair loss of the learner (see :class:`SbertLearner`).
    n_epochs : int, default=1
        Passes over the sampled pairs.
    batch_size : int or "auto", default="auto"
        Pairs per step. "auto": 32 below 16 examples per class on average, else 16.
    learning_rate : float or "auto", default="auto"
        Peak AdamW learning rate. "auto": 1e-4 below 16 examples per class, else 5e-5.
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

    _accepts_label_matrix = False
    _atomic_partial_fit = True  # a failed partial_fit rolls itself back (PartialPipeline)
    _parameter_constraints: dict = {
        "n_pairs_per_example": [StrOptions({"auto"}), POSITIVE_INT],
        "n_neg": [NON_NEGATIVE_INT],
        "sampling": [StrOptions({"in_batch", "random"})],
        "loss": LOSS_CONSTRAINT,
        "n_epochs": [POSITIVE_INT],
        "batch_size": [StrOptions({"auto"}), POSITIVE_INT],
        "learning_rate": [StrOptions({"auto"}), POSITIVE],
        "warmup_ratio": [HALF_OPEN_UNIT],
        "max_length": [MAX_LENGTH, None],
        "random_state": ["random_state"],
        "show_progress_bar": ["boolean", None],
    }

    def __init__(
        self,
        model: Any = DEFAULT_MODEL,
        *,
        n_pairs_per_example: int | str = "auto",
        n_neg: int = 1,
        sampling: str = "in_batch",
        loss: str = "cosine",
        n_epochs: int = 1,
        batch_size: int | str = "auto",
        learning_rate: float | str = "auto",
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
        y = check_y(y, len(texts))  # None, a single str, NaN, mixed types, lengths
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D labels, got an array of shape {y.shape}")
        check_classification_targets(y)
        return texts, y

    def _resolved(self, name: str, y: np.ndarray) -> Any:
        """Parameter ``name``, with "auto" resolved on the labels ``y`` of this call."""
        value = getattr(self, name)
        if not isinstance(value, str):
            return value
        few = len(y) / len(np.unique(y)) < _AUTO_MANY_PER_CLASS
        return _AUTO[name][0 if few else 1]

    def _step_size(self, pairs_per_step: int) -> int:
        """Pairs per learner step: with ``sampling="in_batch"``, whole groups of texts."""
        if self.sampling != "in_batch":
            return pairs_per_step
        return self._group_size(pairs_per_step) * (1 + self.n_neg)

    def _group_size(self, pairs_per_step: int) -> int:
        """Texts per step with ``sampling="in_batch"``."""
        return max(_MIN_GROUP, pairs_per_step // (1 + self.n_neg))

    def _pairs(self, texts: list[str], y: np.ndarray, rng: np.random.Generator, step: int):
        rounds = math.ceil(int(self._resolved("n_pairs_per_example", y)) / (1 + self.n_neg))
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

    def _new_learner(self, seed: int, step: int, rate: float) -> SbertLearner:
        return SbertLearner(
            random_state=seed, device=self.device, **self._learner_params(step, rate)
        )

    def _learner_params(self, step: int, rate: float) -> dict[str, Any]:
        """The learner's settings from this tuner's (every call: ``set_params`` reaches it)."""
        return dict(
            model=self.model,  # a model changed since the first partial_fit: the learner refuses
            loss=self.loss,
            n_epochs=self.n_epochs,
            batch_size=self._step_size(step),
            shuffle=self.sampling != "in_batch",
            learning_rate=rate,
            warmup_ratio=self.warmup_ratio,
            max_length=self.max_length,
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
            self._validate_params()
            texts, y = self._check_labels(X, y)
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"y has a single class {classes.tolist()!r}: pairs need at least two classes"
                )
            self._train(texts, y, classes, make_rng(self.random_state), partial=False)
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
            self._validate_params()
            texts, y = self._check_labels(X, y)
            self._encode_labels(y, len(y), reset=first, classes=classes, partial=True)
            if len(np.unique(y)) < 2:
                raise ValueError("y has a single class in this batch: pairs need two classes")
            rng = make_rng(self.random_state) if first else self._rng
            self._train(texts, y, self.classes_, rng, partial=True)
        return self

    def _train(
        self, texts: list[str], y: np.ndarray, classes: Any, rng: Any, *, partial: bool
    ) -> None:
        """Sample pairs and train the learner on them (a new one unless ``partial`` has one).

        A failure or an interruption anywhere, pair sampling included, puts back the random
        state and the learner's parameters (the learner puts back its own weights).
        """
        step = int(self._resolved("batch_size", y))
        rate = float(self._resolved("learning_rate", y))
        state = rng.bit_generator.state
        learner = getattr(self, "learner_", None) if partial else None
        previous = None if learner is None else learner.get_params(deep=False)
        try:
            pairs = self._pairs(texts, y, rng, step)
            if learner is None:
                learner = self._new_learner(draw_seed(rng, MAX_INT32_SEED), step, rate)
            learner.set_params(**self._learner_params(step, rate))
            learner._progress_label = type(self).__name__  # the bar names what the user ran
            (learner.partial_fit if partial else learner.fit)(*pairs)
        except BaseException:
            rng.bit_generator.state = state
            if previous is not None:
                learner.set_params(**previous)
            raise
        finally:  # for this call only: a learner saved or used alone names itself
            if learner is not None:
                learner.__dict__.pop("_progress_label", None)
        self._rng = rng
        self.learner_ = learner
        self.classes_ = classes
        self._n_features_out = learner._n_features_out

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
        """Write the tuned body to a folder that ``SentenceEncoder(model=path)`` loads.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self, "learner_")
        self.learner_.save(path)

    @classmethod
    def _unit_test_params(cls) -> dict:
        """Cheap constructor arguments for tests/test_text_estimators.py (seconds on the CPU)."""
        return dict(
            n_pairs_per_example=2, batch_size=4, max_length=16, random_state=0, device="cpu"
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        return tags
