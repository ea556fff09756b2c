"""`TransformerEncoder`: a Hugging Face model's pooled last hidden state as features."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.utils._param_validation import StrOptions

from embkit._core.models import DEFAULT_MODEL, load_hf_model, tokenize
from embkit._core.quantize import QUANTIZE_CONSTRAINT
from embkit._core.validation import POSITIVE_INT
from embkit.encoders._base import TextEncoderBase
from embkit.encoders.onnx import ONNX_CONSTRAINTS, load_onnx, require_onnxruntime
from embkit.io.cache import EmbeddingCache

__all__ = ["TransformerEncoder"]

_POOLINGS = ("cls", "mean")


class TransformerEncoder(TextEncoderBase):
    """Embed texts with the last hidden state of a Hugging Face (BERT-like) model.

    The texts are tokenised in batches of similar length, run through ``AutoModel`` under
    ``torch.inference_mode()``, and each text's last hidden state is pooled into one
    vector: the first (``[CLS]``) token, or the mean over its real tokens. Fitting, the
    cache and pickling behave as in :class:`~embkit.SentenceEncoder`.

    Parameters
    ----------
    model : str or path-like, default="all-MiniLM-L6-v2"
        As in :class:`~embkit.SentenceEncoder`, loaded by ``transformers``.
    pooling : {"mean", "cls"}, default="mean"
        ``"mean"`` averages the token states under the attention mask; ``"cls"`` takes
        the first token's state.
    max_length : int, default=256
        Texts are truncated to this many tokens, or to the model's position table
        (``max_position_embeddings``; with ``backend="onnx"`` the tokenizer's
        ``model_max_length``) when that is shorter.
    batch_size : int, default=64
        Texts per forward pass.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        ``"auto"`` picks cuda, then mps, then cpu when fitting; see ``device_``.
    cache : None, str, path-like or EmbeddingCache, default=None
        Keep vectors on disk, keyed by model identity, ``pooling``, ``max_length`` and text;
        ``None`` keeps them in memory, as in :class:`~embkit.SentenceEncoder`.
    show_progress_bar : bool or None, default=None
        ``None`` shows a progress bar only when more than 1,000 texts reach the model and
        stderr is a terminal or a notebook (not a log file).
    backend : {"torch", "onnx"}, default="torch"
        ``"onnx"``: onnxruntime on the CPU, as for :class:`~embkit.SentenceEncoder`
        (pooling in numpy).
    quantize : {None, "int8"}, default=None
        ``"int8"`` (``backend="onnx"`` only): onnxruntime's dynamic int8 quantisation.
    onnx_threads : int or None, default=None
        onnxruntime intra-op threads; ``None`` keeps onnxruntime's default.

    Attributes
    ----------
    device_ : torch.device
        The device the model runs on.
    embedding_dim_ : int
        The hidden size of the model (the number of output features).

    See Also
    --------
    SentenceEncoder : A sentence-transformers model, pooling and normalisation included.

    Examples
    --------
    >>> from embkit import TransformerEncoder
    >>> encoder = TransformerEncoder(pooling="cls").fit(["hello"])
    >>> encoder.transform(["a happy text", "a sad text"]).shape
    (2, 384)
    """

    _cache_kind = "transformers-last-hidden-state"

    _parameter_constraints: dict = {
        **TextEncoderBase._parameter_constraints,
        **ONNX_CONSTRAINTS,
        "pooling": [StrOptions(set(_POOLINGS))],
        "max_length": [POSITIVE_INT],
        "quantize": QUANTIZE_CONSTRAINT,
    }

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
        backend: str = "torch",
        quantize: str | None = None,
        onnx_threads: int | None = None,
    ) -> None:
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.cache = cache
        self.show_progress_bar = show_progress_bar
        self.backend = backend
        self.quantize = quantize
        self.onnx_threads = onnx_threads

    def _check_params(self) -> None:
        if self.quantize is not None and self.backend != "onnx":
            raise ValueError(f"quantize={self.quantize!r} needs backend='onnx'")
        if self.backend == "onnx":
            require_onnxruntime()

    def _cache_settings(self) -> dict[str, Any]:
        settings = {"pooling": self.pooling, "max_length": int(self.max_length)}
        if self.backend == "onnx":
            settings["backend"] = "onnx"
        return settings if self.quantize is None else {**settings, "quantize": self.quantize}

    def _load(self, device: Any) -> Any:
        if self.backend == "torch":
            return load_hf_model(self.model, device)
        if str(device) != "cpu":
            raise ValueError(f"backend='onnx' runs on the CPU only; got device {str(device)!r}")
        announce = self.show_progress_bar is not False
        return load_onnx("transformers", self.model, self.quantize, self.onnx_threads, announce)

    def _dim(self, loaded: Any) -> int:
        if self.backend == "onnx":
            return loaded.get_embedding_dimension()
        return int(loaded[1].config.hidden_size)

    def _window(self, loaded: Any) -> tuple[Any, int]:
        """The tokenizer and the tokens a text keeps: ``max_length``, capped only where the
        model cannot run past (its position table; with ONNX the tokenizer's window), so
        every ``max_length`` that ran before gives the vectors (and cache entries) it gave."""
        if self.backend == "onnx":
            tokenizer = loaded.tokenizer
            limit = getattr(tokenizer, "model_max_length", None)
            if loaded.positions:  # a tokenizer may not know its model's limit (1e30)
                limit = min(limit or loaded.positions, loaded.positions)
        else:
            tokenizer, limit = loaded[0], getattr(loaded[1].config, "max_position_embeddings", None)
        return tokenizer, int(min(self.max_length, limit or self.max_length))

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The torch path's pooling, in numpy (for the ONNX backend's hidden states)."""
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask[:, :, None].astype(hidden.dtype)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

    def _encode(self, loaded: Any, texts: list[str], show_progress: bool) -> np.ndarray:
        if self.backend == "onnx":
            window = self._window(loaded)[1]
            return loaded.encode(texts, self.batch_size, show_progress, self._pool, window)
        import torch
        from tqdm.auto import tqdm

        tokenizer, window = self._window(loaded)
        net = loaded[1]
        device = next(net.parameters()).device
        out = np.empty((len(texts), self._dim(loaded)), dtype=np.float32)
        # longest first, as sentence-transformers: less padding, memory peaks early
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), self.batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="Batches", disable=not show_progress):
                idx = order[start : start + self.batch_size]
                batch = tokenize(
                    tokenizer,
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=window,
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
