"""ONNX Runtime inference for the text encoders (``backend="onnx"``).

The first use of a model exports it locally, once (``torch.onnx.export``), into
``$EMBKIT_CACHE_DIR/onnx`` or ``~/.cache/embkit/onnx``, one checked folder per model and
setting (see :mod:`embkit.encoders._onnx_export`); every later use loads that folder into
an onnxruntime session. For SentenceEncoder the graph is the whole sentence model after the
tokenizer (pooling and normalisation included); for TransformerEncoder the last hidden
state. ``docs/encoders.md`` gives the recipe and its guarantees.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils._param_validation import StrOptions

from embkit._core.models import resolve_model, shared_model, tokenize
from embkit._core.validation import POSITIVE_INT
from embkit.encoders._artifacts import artifact_dir
from embkit.encoders._onnx_export import (
    _GRAPH,
    _TOKENIZER,
    ExportDamagedWarning,
    export_folder,
)

__all__ = ["ExportDamagedWarning", "OnnxModel", "ONNX_CONSTRAINTS", "load_onnx"]

ONNX_CONSTRAINTS: dict[str, list[Any]] = {
    "backend": [StrOptions({"torch", "onnx"})],
    "onnx_threads": [POSITIVE_INT, None],
}
"""The ``_parameter_constraints`` of an encoder's ``backend`` and ``onnx_threads``."""


def require_onnxruntime() -> Any:
    """Import and return onnxruntime, or raise an ImportError that names the extra.

    Examples
    --------
    >>> require_onnxruntime().__name__
    'onnxruntime'
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            'backend="onnx" needs onnxruntime and onnx: pip install "embkit[onnx]"'
        ) from exc
    return onnxruntime


# -- the loaded export --------------------------------------------------------------------
class OnnxModel:
    """An export loaded for inference: the onnxruntime session and the saved tokenizer.

    ``tokenizer`` and ``max_seq_length`` are named as in sentence-transformers, for the
    truncation warning.
    """

    def __init__(self, folder: Path, manifest: dict[str, Any], threads: int | None) -> None:
        ort = require_onnxruntime()
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        self.folder = folder
        self.session = ort.InferenceSession(
            str(folder / _GRAPH), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder / _TOKENIZER))
        self.input_names = list(manifest["inputs"])
        self.max_seq_length = manifest["max_seq_length"]
        self.positions = manifest.get("positions")  # absent in exports of earlier releases
        self.dim = int(manifest["dim"])

    def get_embedding_dimension(self) -> int:
        """The length of the vectors (for a sentence model) or the hidden size."""
        return self.dim

    def run(self, texts: list[str], max_length: int | None = None) -> tuple[np.ndarray, Any]:
        """Tokenise ``texts`` as one padded batch and run the graph: ``(output, mask)``."""
        limit = self.max_seq_length if max_length is None else max_length
        if self.positions and (not limit or limit > self.positions):
            limit = self.positions  # past its position table the graph cannot run
        batch = tokenize(
            self.tokenizer,
            texts,
            padding=True,
            truncation="longest_first" if limit else False,
            max_length=limit,
            return_tensors="np",
        )
        feeds = {name: np.asarray(batch[name], dtype=np.int64) for name in self.input_names}
        return self.session.run(None, feeds)[0], feeds["attention_mask"]

    def encode(
        self,
        texts: list[str],
        batch_size: int,
        show_progress: bool,
        pool: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        max_length: int | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` in batches, longest first; ``pool(output, mask)`` makes vectors."""
        from tqdm.auto import tqdm

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in tqdm(
            range(0, len(texts), batch_size), desc="Batches", disable=not show_progress
        ):
            idx = order[start : start + batch_size]
            output, mask = self.run([texts[i] for i in idx], max_length)
            out[idx] = output if pool is None else pool(output, mask)
        return out


def load_onnx(
    kind: str,
    model: Any,
    quantize: str | None = None,
    threads: int | None = None,
    announce: bool = True,
) -> OnnxModel:
    """The shared :class:`OnnxModel` for ``model`` (exported on first use), one per process.

    Parameters
    ----------
    kind : {"sentence-transformers", "transformers"}
        The whole sentence model, or the transformer's last hidden state.
    model : str or path-like
        As the encoders' ``model`` parameter.
    quantize : {None, "int8"}
    threads : int or None
        onnxruntime intra-op threads; ``None`` keeps onnxruntime's default.
    announce : bool
        Print a line to stderr when an export is made.

    Examples
    --------
    >>> onnx_model = load_onnx("sentence-transformers", "all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> onnx_model.encode(["hello"], batch_size=8, show_progress=False).shape  # doctest: +SKIP
    (1, 384)
    """
    require_onnxruntime()
    root = artifact_dir("onnx").resolve()
    key = ("onnx", resolve_model(model), kind, quantize, str(root), threads)

    def load() -> OnnxModel:
        folder, manifest = export_folder(kind, model, quantize, root, announce)
        return OnnxModel(folder, manifest, threads)

    return shared_model(key, load)
