"""`SentenceEncoder`: sentence-transformers models as scikit-learn transformers."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from embkit._core.models import DEFAULT_MODEL, embedding_dimension, load_sentence_transformer
from embkit._core.quantize import QUANTIZE_CONSTRAINT
from embkit.encoders._base import TextEncoderBase
from embkit.encoders.onnx import ONNX_CONSTRAINTS, load_onnx, require_onnxruntime
from embkit.io.cache import EmbeddingCache

__all__ = ["SentenceEncoder"]


class SentenceEncoder(TextEncoderBase):
    """Embed texts with a sentence-transformers model.

    A stateless scikit-learn transformer from a 1-D sequence of strings to a float32
    array of shape ``(n_texts, embedding_dim_)``. The model is loaded offline, lazily, once
    per process, and shared by every clone; pickles hold its name, never its weights.
    ``fit`` learns nothing from the texts; repeated texts are encoded once.

    Parameters
    ----------
    model : str or path-like, default="all-MiniLM-L6-v2"
        The bundled offline model, or a local folder or name loaded from local files only
        (unless ``EMBKIT_ALLOW_DOWNLOADS=1``).
    batch_size : int, default=64
        Texts per forward pass.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        ``"auto"`` picks cuda, then mps, then cpu when fitting; see ``device_``.
    normalize : bool, default=False
        Scale every vector to unit L2 norm (after the cache: never re-runs the model).
    cache : None, str, path-like or EmbeddingCache, default=None
        Keep vectors on disk (a directory, an ``.sqlite3`` file or a cache object), keyed
        by model identity, settings and text. ``None`` keeps them in this process's
        memory only (``EMBKIT_MEMORY_CACHE_MB``, default 256; 0 turns it off), so the
        clones of a grid search share them.
    show_progress_bar : bool or None, default=None
        ``None`` shows a progress bar only when more than 1,000 texts reach the model and
        stderr is a terminal or a notebook (not a log file).
    quantize : {None, "int8"}, default=None
        Dynamic int8 quantization on the CPU: torchao (``int8`` extra) with
        ``backend="torch"``, onnxruntime with ``backend="onnx"``. Own cache entries.
    backend : {"torch", "onnx"}, default="torch"
        ``"onnx"`` runs the model with onnxruntime on the CPU (``onnx`` extra), exported
        locally on first use (see :mod:`embkit.encoders.onnx`). Own cache entries.
    onnx_threads : int or None, default=None
        onnxruntime intra-op threads; ``None`` keeps onnxruntime's default.

    Attributes
    ----------
    device_ : torch.device
        The device the model runs on.
    embedding_dim_ : int
        The length of every vector (the number of output features).

    See Also
    --------
    TransformerEncoder : Pooled last hidden state of a Hugging Face model.
    EmbeddingCache : The on-disk cache behind ``cache=``.

    Examples
    --------
    >>> from embkit import SentenceEncoder
    >>> encoder = SentenceEncoder().fit(["hello"])
    >>> X = encoder.transform(["a happy text", "a sad text"])
    >>> X.shape, X.dtype
    ((2, 384), dtype('float32'))
    >>> encoder.get_feature_names_out()[:2].tolist()
    ['sentenceencoder0', 'sentenceencoder1']
    """

    _cache_kind = "sentence-transformers"

    _parameter_constraints: dict = {
        **TextEncoderBase._parameter_constraints,
        **ONNX_CONSTRAINTS,
        "normalize": ["boolean"],
        "quantize": QUANTIZE_CONSTRAINT,
    }

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        device: Any = "auto",
        normalize: bool = False,
        cache: str | os.PathLike[str] | EmbeddingCache | None = None,
        show_progress_bar: bool | None = None,
        quantize: str | None = None,
        backend: str = "torch",
        onnx_threads: int | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.cache = cache
        self.show_progress_bar = show_progress_bar
        self.quantize = quantize
        self.backend = backend
        self.onnx_threads = onnx_threads

    def _check_params(self) -> None:
        if self.backend == "onnx":
            require_onnxruntime()

    def _cache_settings(self) -> dict[str, Any]:
        # torch float32 keeps the keys it had before backends existed (caches stay valid)
        settings = {} if self.backend == "torch" else {"backend": self.backend}
        return settings if self.quantize is None else {**settings, "quantize": self.quantize}

    def _normalize_output(self) -> bool:
        return bool(self.normalize)

    def _load(self, device: Any) -> Any:
        if (self.quantize is not None or self.backend == "onnx") and str(device) != "cpu":
            what = "backend='onnx'" if self.backend == "onnx" else f"quantize={self.quantize!r}"
            raise ValueError(
                f"{what} runs on the CPU only; pass device='cpu' "
                f"(the device resolved to {str(device)!r})"
            )
        if self.backend == "onnx":
            announce = self.show_progress_bar is not False
            return load_onnx(
                "sentence-transformers", self.model, self.quantize, self.onnx_threads, announce
            )
        return load_sentence_transformer(self.model, device, quantize=self.quantize)

    def _dim(self, loaded: Any) -> int:
        dim = embedding_dimension(loaded)
        if dim is None:  # a model whose last module does not say; ask it once
            dim = loaded.encode(["x"], convert_to_numpy=True).shape[1]
        return int(dim)

    def _encode(self, loaded: Any, texts: list[str], show_progress: bool) -> np.ndarray:
        if self.backend == "onnx":
            return loaded.encode(texts, self.batch_size, show_progress)
        return loaded.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
        )
