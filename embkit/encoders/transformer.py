"""`TransformerEncoder`: a Hugging Face model's pooled last hidden state as features."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from embkit._core.models import DEFAULT_MODEL, load_hf_model
from embkit._core.validation import check_choice, check_positive_int
from embkit.encoders._base import TextEncoderBase
from embkit.io.cache import EmbeddingCache

__all__ = ["TransformerEncoder"]

_POOLINGS = ("cls", "mean")


class TransformerEncoder(TextEncoderBase):
    """Embed texts with the last hidden state of a Hugging Face (BERT-like) model.

    The texts are tokenised in batches of similar length, run through ``AutoModel`` under
    ``torch.inference_mode()``, and each text's last hidden state is pooled into one
    vector: the first (``[CLS]``) token, or the mean over its real tokens.

    Parameters
    ----------
    model : str or path-like, default="all-MiniLM-L6-v2"
        ``"all-MiniLM-L6-v2"`` is the bundled offline model; any other name or local
        folder is loaded by ``transformers`` from local files only, unless
        ``EMBKIT_ALLOW_DOWNLOADS=1`` is set.
    pooling : {"mean", "cls"}, default="mean"
        ``"mean"`` averages the token states under the attention mask (what sentence
        models such as MiniLM are trained for); ``"cls"`` takes the first token's state.
    max_length : int, default=256
        Texts are truncated to this many tokens.
    batch_size : int, default=64
        Texts per forward pass.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        ``"auto"`` picks cuda, then mps, then cpu when fitting; see ``device_``.
    cache : None, str, path-like or EmbeddingCache, default=None
        Keep vectors on disk, keyed by model identity, ``pooling``, ``max_length`` and text.
    show_progress_bar : bool or None, default=None
        ``None`` shows a progress bar only when more than 1,000 texts reach the model.

    Attributes
    ----------
    device_ : torch.device
        The device the model runs on.
    embedding_dim_ : int
        The hidden size of the model (the number of output features).

    See Also
    --------
    SentenceEncoder : A sentence-transformers model, pooling and normalisation included.

    Notes
    -----
    Fitting, empty input, the cache and pickling behave as in
    :class:`~embkit.SentenceEncoder`.

    Examples
    --------
    >>> from embkit import TransformerEncoder
    >>> encoder = TransformerEncoder(pooling="cls").fit(["hello"])
    >>> encoder.transform(["a happy text", "a sad text"]).shape
    (2, 384)
    """

    _cache_kind = "transformers-last-hidden-state"

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        pooling: str = "mean",
        max_length: int = 256,
        batch_size: int = 64,
        device: Any = "auto",
        cache: str | os.PathLike[str] | EmbeddingCache | None = None,
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.cache = cache
        self.show_progress_bar = show_progress_bar

    def _check_params(self) -> None:
        check_choice(self.pooling, "pooling", _POOLINGS)
        check_positive_int(self.max_length, "max_length")

    def _cache_settings(self) -> dict[str, Any]:
        return {"pooling": self.pooling, "max_length": int(self.max_length)}

    def _load(self, device: Any) -> Any:
        return load_hf_model(self.model, device)

    def _dim(self, loaded: Any) -> int:
        return int(loaded[1].config.hidden_size)

    def _window(self, loaded: Any) -> tuple[Any, int]:
        tokenizer = loaded[0]
        model_max = getattr(tokenizer, "model_max_length", None) or self.max_length
        return tokenizer, int(min(self.max_length, model_max))

    def _encode(self, loaded: Any, texts: list[str], show_progress: bool) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        tokenizer, net = loaded
        device = next(net.parameters()).device
        out = np.empty((len(texts), self._dim(loaded)), dtype=np.float32)
        # Longest first, like sentence-transformers: similar lengths share a batch (less
        # padding) and the largest batch comes first, so memory peaks early.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), self.batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="Batches", disable=not show_progress):
                idx = order[start : start + self.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(device)
                hidden = net(**batch).last_hidden_state
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                out[idx] = pooled.float().cpu().numpy()
        return out
