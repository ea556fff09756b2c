"""``SbertLearner``: fine-tune a sentence-transformers body on text pairs.

The loop and saved state are :class:`embkit._training.body.BodyEstimatorBase`'s; a batch
encodes each of its distinct texts once and scores the cosine similarity of its pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from torch.nn import functional as F

from embkit._core.models import DEFAULT_MODEL, quiet_loading
from embkit._core.seeding import MAX_INT32_SEED, torch_generator
from embkit._core.validation import MAX_LENGTH, POSITIVE, check_texts
from embkit._training.body import BodyEstimatorBase, save_folder
from embkit._training.tokens import Tokenized, body_max_length, encode_body

__all__ = ["SbertLearner"]

LOSS_CONSTRAINT = [StrOptions({"cosine", "contrastive"})]


def check_similarity(y: Any, n: int, *, name: str = "y") -> np.ndarray:
    """Validate pair targets: ``n`` finite similarity scores, as float32."""
    if y is None:
        raise TypeError(f"{name} must be an array of similarity scores, got None")
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must contain numbers (similarity scores, e.g. 1.0 similar, 0.0 dissimilar), "
            f"got dtype {arr.dtype}"
        )
    if arr.shape[0] != n:
        raise ValueError(
            f"texts and {name} have different lengths: {n} pairs, {arr.shape[0]} in {name}"
        )
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


@dataclass
class _Pairs:
    """The pairs of one call: distinct texts tokenised once, each side as text codes."""

    n: int
    tokens: Tokenized
    left: np.ndarray
    right: np.ndarray
    target: torch.Tensor


def _check_pair_texts(texts1: Any, texts2: Any, *, allow_empty: bool) -> tuple[list, list]:
    t1 = check_texts(texts1, name="texts1", allow_empty=allow_empty)
    t2 = check_texts(texts2, name="texts2", allow_empty=allow_empty)
    if len(t1) != len(t2):
        raise ValueError(f"texts1 and texts2 have different lengths: {len(t1)} and {len(t2)} texts")
    return t1, t2


def _pair_loss(
    loss: str, a: torch.Tensor, b: torch.Tensor, y: torch.Tensor, margin: float
) -> torch.Tensor:
    cos = F.cosine_similarity(a, b, dim=1, eps=1e-8)
    if loss == "cosine":
        return F.mse_loss(cos, y)
    # contrastive: pull similar pairs together, push dissimilar ones beyond the margin
    distance = 1.0 - cos
    return (y * distance.pow(2) + (1.0 - y) * F.relu(margin - distance).pow(2)).mean() / 2


class SbertLearner(ClassNamePrefixFeaturesOutMixin, BodyEstimatorBase):
    """Fine-tune a copy of a sentence-transformers body on text pairs with similarity scores.

    ``fit(texts1, texts2, y)`` trains a private copy of the body so that the cosine
    similarity of each pair approaches ``y``; ``transform`` encodes with the tuned body and
    ``predict`` gives the cosine similarity of pairs.

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
        Shuffle the pairs at every pass; ``False`` trains them in the order given (as
        :class:`SbertTuner`'s in-batch groups need).
    learning_rate : float, default=2e-5
        Peak AdamW learning rate.
    warmup_ratio : float, default=0.1
        Fraction of the steps of a ``fit`` or ``partial_fit`` call spent warming up
        linearly; the rate then decays linearly to zero.
    weight_decay : float, default=0.01
        AdamW weight decay.
    margin : float, default=0.5
        Margin of the "contrastive" loss.
    max_length : int or None, default=None
        Tokens kept per text; ``None`` uses the body's maximum sequence length.
    random_state : int, RandomState instance or None, default=None
        Seeds shuffling and dropout (same seed, data and CPU: same weights).
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

    _parameter_constraints: dict = {
        **BodyEstimatorBase._parameter_constraints,
        "loss": LOSS_CONSTRAINT,
        "shuffle": ["boolean"],
        "margin": [POSITIVE],
        "max_length": [MAX_LENGTH, None],
    }

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
    def _check_input(
        self, texts1: Any, texts2: Any, y: Any, *, reset: bool, partial: bool
    ) -> tuple[list, list, np.ndarray]:
        t1, t2 = _check_pair_texts(texts1, texts2, allow_empty=False)
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
        return self._fit(texts1, texts2, y)

    def partial_fit(self, texts1: Any, texts2: Any, y: Any) -> SbertLearner:
        """One pass over the given pairs, continuing from the current weights.

        Each call warms the rate up and decays it over its own steps: one call on a fresh
        learner equals ``fit`` with ``n_epochs=1``.

        Parameters
        ----------
        texts1, texts2 : sequence of str, same length
        y : array-like of float, shape (n_pairs,)

        Returns
        -------
        self : SbertLearner
        """
        return self._partial_fit(texts1, texts2, y)

    def _prepare_data(
        self, checked: Any, body: Any, device: torch.device, rng: Any, *, fit: bool
    ) -> _Pairs:
        texts1, texts2, y = checked
        vocab: dict[str, int] = {}
        codes = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in texts1 + texts2),
            dtype=np.int64,
            count=2 * len(texts1),
        )
        max_length = body_max_length(body, self.max_length)  # refuses what the body cannot take
        return _Pairs(
            n=len(y),
            tokens=Tokenized(body.tokenizer, list(vocab), max_length, warn_as=self._model_name()),
            left=codes[: len(texts1)],
            right=codes[len(texts1) :],
            target=torch.as_tensor(y, device=device),
        )

    def _init_head(self, data: _Pairs, rng: Any) -> None:
        self._n_features_out = int(self.model_.get_embedding_dimension())

    def _batches(self, data: _Pairs) -> list[np.ndarray]:
        generator = torch_generator(self._rng, high=MAX_INT32_SEED)
        order = (
            torch.randperm(data.n, generator=generator).numpy()
            if self.shuffle
            else np.arange(data.n)
        )
        return [order[s : s + self.batch_size] for s in range(0, data.n, self.batch_size)]

    def _batch_loss(self, data: _Pairs, rows: np.ndarray) -> tuple[torch.Tensor, int]:
        """Each distinct text of the batch is encoded once."""
        ids, inverse = np.unique(
            np.concatenate([data.left[rows], data.right[rows]]), return_inverse=True
        )
        emb = self.model_(data.tokens.batch(ids, self.device_))["sentence_embedding"]
        inverse = torch.as_tensor(inverse, device=self.device_)
        a, b = emb[inverse[: len(rows)]], emb[inverse[len(rows) :]]
        return _pair_loss(self.loss, a, b, data.target[rows], float(self.margin)), len(rows)

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
            warn_as=self._model_name(),
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
        t1, t2 = _check_pair_texts(texts1, texts2, allow_empty=True)
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

    @classmethod
    def _unit_test_params(cls) -> dict:
        """Cheap constructor arguments for tests/test_text_estimators.py (seconds on the CPU)."""
        return dict(n_epochs=1, batch_size=4, max_length=16, random_state=0, device="cpu")

    def save(self, path: Any) -> None:
        """Write the tuned body to a folder that ``SentenceEncoder(model=path)`` loads.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self, "model_")
        with quiet_loading():  # transformers draws a bar while it writes the weights
            self.model_.save(str(save_folder(path)), create_model_card=False)
