"""`StaticEncoder`: a sentence-transformer distilled into static token vectors (model2vec).

The first use distils the source model into a model2vec folder under a cache directory;
later uses, in any process, load that folder. Encoding is then a table look-up and a mean.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from embkit._core.models import (
    DEFAULT_MODEL,
    downloads_allowed,
    local_folder,
    model_identity,
    quiet_loading,
    resolve_model,
    shared_model,
)
from embkit._core.validation import OPEN_UNIT, POSITIVE_INT
from embkit.encoders._artifacts import artifact_dir, building, keyed_folder
from embkit.encoders._base import TextEncoderBase
from embkit.io.cache import EmbeddingCache

__all__ = ["StaticEncoder"]

# Bumped when the stored folder's layout or the distillation recipe changes here.
# 2: rows stored in C order (format 1 folders hold a scrambled table) and no padding.
_FORMAT = 2
_PROVENANCE = "embkit-static.json"


def default_cache_dir() -> Path:
    """Where distilled models are kept when ``cache_dir=None``: ``artifact_dir("static")``.

    Examples
    --------
    >>> default_cache_dir().name
    'static'
    """
    return artifact_dir("static")


@functools.cache
def _model2vec_version() -> str:
    from importlib.metadata import version

    return version("model2vec")


def _static_source(resolved: str) -> Path | None:
    """The model2vec folder ``resolved`` names (a folder, or a hub name in the local hub
    cache, e.g. ``minishlab/potion-base-8M``), or ``None`` for a model to distil."""
    folder = local_folder(resolved)
    return folder if folder is not None and is_static_folder(folder) else None


def is_static_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an already distilled model2vec folder.

    Examples
    --------
    >>> is_static_folder("no/such/folder")
    False
    """
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "model2vec"
    except (OSError, ValueError, AttributeError):
        return False


def _transformer_folder(folder: Path) -> Path:
    """The folder of the transformer inside a sentence-transformers (or plain HF) folder."""
    if (folder / "config.json").is_file():
        return folder
    modules = folder / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if str(module.get("type", "")).endswith("Transformer"):
                return folder / module.get("path", "")
    raise ValueError(f"{folder} holds neither a transformer (config.json) nor a modules.json")


_DISTILLING = threading.Lock()


def _distil(
    source: str, dim: int | None, sif_coefficient: float | None, device: str, show: bool = True
) -> Any:
    """Distil the transformer at ``source`` (a local folder or hub name) into a StaticModel."""
    from transformers import AutoModel, AutoTokenizer

    offline = not downloads_allowed()
    path = Path(source)
    where = str(_transformer_folder(path)) if path.is_dir() else source
    with quiet_loading():
        # importing model2vec's distiller pulls in torchao where it is installed: muted too
        from model2vec.distill import distill_from_model, inference

        tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=offline, use_fast=True)
        net = AutoModel.from_pretrained(where, local_files_only=offline)
    hidden = int(net.config.hidden_size)
    if dim is not None and dim > hidden:
        raise ValueError(f"dim={dim} is larger than the hidden size of {source} ({hidden})")
    with _DISTILLING:  # model2vec's bar has no switch: muted here when asked, one at a time
        bar = inference.tqdm
        inference.tqdm = bar if show else functools.partial(bar, disable=True)
        try:
            static = distill_from_model(
                model=net,
                tokenizer=tokenizer,
                device=device,
                pca_dims=dim,
                sif_coefficient=sif_coefficient,
                quantize_to="float32",
            )
        finally:
            inference.tqdm = bar
    # PCA returns Fortran order and safetensors' numpy writer stores the raw buffer as if
    # C-ordered (rows would mix tokens): store a C-ordered copy.
    static.embedding = np.ascontiguousarray(static.embedding)
    if static.weights is not None:
        static.weights = np.ascontiguousarray(static.weights)
    return _without_padding(static)


def _without_padding(static: Any) -> Any:
    """Stop ``static``'s tokenizer from padding (and truncating) texts, in place.

    The transformer's tokenizer may pad to a fixed length (MiniLM: 128), which would make a
    text's mean vector mostly the ``[PAD]`` row; truncation is left to ``max_length``.
    """
    static.tokenizer.no_padding()
    static.tokenizer.no_truncation()
    return static


def _load_static(folder: Path) -> Any:
    from model2vec import StaticModel

    try:
        return _without_padding(StaticModel.from_pretrained(folder))
    except Exception as exc:  # truncated weights, bad JSON, missing files: many kinds
        raise ValueError(
            f"cannot load the static model in {folder} ({type(exc).__name__}: {exc}); if "
            "embkit distilled it there, delete that folder to distil it again"
        ) from exc


class StaticEncoder(TextEncoderBase):
    """Embed texts with static token vectors distilled from a sentence-transformer.

    On first use the source model is distilled with model2vec (every vocabulary token
    through the transformer once, PCA to ``dim``, SIF weighting) and stored under
    ``cache_dir``, keyed by the source's weights and the settings. A text's vector is the
    normalised mean of its tokens' vectors: much faster than the transformer, somewhat
    less accurate (see ``docs/encoders.md``). Needs the ``static`` extra (model2vec).

    Parameters
    ----------
    model : str or path-like, default="all-MiniLM-L6-v2"
        The source: ``"all-MiniLM-L6-v2"`` (the bundled offline model), a local
        sentence-transformers or Hugging Face folder, or a name in the local hub cache.
        An already distilled model2vec model, a folder or a hub name in the local hub
        cache (``"minishlab/potion-base-8M"``), is used as it is (``dim`` and
        ``sif_coefficient`` are then ignored).
    dim : int or None, default=256
        Output dimensions (PCA components, at most the transformer's hidden size);
        ``None`` keeps the hidden size.
    sif_coefficient : float or None, default=1e-4
        Smooth inverse frequency weighting of the tokens (between 0 and 1 exclusive);
        ``None`` weights all tokens alike.
    max_length : int or None, default=512
        Tokens per text beyond which a text is truncated; ``None`` keeps them all.
    batch_size : int, default=1024
        Texts per encoding batch.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where the transformer runs while distilling (encoding itself is numpy).
    cache_dir : None, str or path-like, default=None
        Where distilled models are stored; ``None`` means ``$EMBKIT_CACHE_DIR/static``
        or ``~/.cache/embkit/static``.
    cache : None, str, path-like or EmbeddingCache, default=None
        An embedding cache, as in :class:`~embkit.SentenceEncoder` (rarely worth it).
    show_progress_bar : bool or None, default=None
        ``False`` silences the progress output, model2vec's distillation bar included.

    Attributes
    ----------
    device_ : torch.device
        The device distillation runs (or ran) on.
    embedding_dim_ : int
        The length of every vector.
    model_path_ : str
        The model2vec folder the vectors come from (in ``cache_dir``, or ``model``).

    See Also
    --------
    SentenceEncoder : The transformer itself (slower, more accurate).

    Examples
    --------
    >>> from embkit import StaticEncoder
    >>> StaticEncoder(dim=128).get_params()["dim"]
    128
    >>> encoder = StaticEncoder().fit(["hello"])  # doctest: +SKIP
    >>> encoder.transform(["a happy text", "a sad text"]).shape  # doctest: +SKIP
    (2, 256)
    """

    _cache_kind = "model2vec"
    _width_from_cache = False  # fit records the distilled folder (model_path_): it loads it

    _parameter_constraints: dict = {
        **TextEncoderBase._parameter_constraints,
        "dim": [POSITIVE_INT, None],
        "max_length": [POSITIVE_INT, None],
        "sif_coefficient": [OPEN_UNIT, None],
        "cache_dir": [str, os.PathLike, None],
    }

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        dim: int | None = 256,
        sif_coefficient: float | None = 1e-4,
        max_length: int | None = 512,
        batch_size: int = 1024,
        device: Any = "auto",
        cache_dir: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | EmbeddingCache | None = None,
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.dim = dim
        self.sif_coefficient = sif_coefficient
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.cache_dir = cache_dir
        self.cache = cache
        self.show_progress_bar = show_progress_bar

    # -- hooks ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        try:
            import model2vec  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                'StaticEncoder needs model2vec: pip install "embkit[static]"'
            ) from exc

    def _settings(self) -> dict[str, Any]:
        """What decides the distilled vectors besides the source weights."""
        sif = None if self.sif_coefficient is None else float(self.sif_coefficient)
        return {"dim": None if self.dim is None else int(self.dim), "sif_coefficient": sif}

    def _cache_settings(self) -> dict[str, Any]:
        max_length = None if self.max_length is None else int(self.max_length)
        if _static_source(resolve_model(self.model)) is not None:
            return {"max_length": max_length}
        # what else names the distilled folder: another format or model2vec distils anew
        distilled = {"format": _FORMAT, "model2vec": _model2vec_version()}
        return {**self._settings(), **distilled, "max_length": max_length}

    @classmethod
    def _unit_test_params(cls) -> dict:
        """Cheap arguments; tests/test_text_estimators.py adds a tiny model and cache_dir."""
        return {"device": "cpu", "dim": 8}

    def _fitted_extra(self, device: Any) -> dict[str, Any]:
        return {"model_path_": str(self._entry(device)[0])}

    def _entry(self, device: Any) -> tuple[Path, Any]:
        """The shared ``(folder, StaticModel)`` for the current parameters."""
        resolved = resolve_model(self.model)
        folder = _static_source(resolved)
        if folder is not None:
            return shared_model(("model2vec", resolved), lambda: (folder, _load_static(folder)))
        settings = self._settings()
        root = Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()
        key = ("model2vec-distilled", resolved, json.dumps(settings), str(root.resolve()))

        def load() -> tuple[Path, Any]:
            folder = self._distilled_folder(resolved, root, settings, str(device))
            return folder, _load_static(folder)

        return shared_model(key, load)

    def _load(self, device: Any) -> Any:
        return self._entry(device)[1]

    def _dim(self, loaded: Any) -> int:
        return int(loaded.dim)

    def _encode(self, loaded: Any, texts: list[str], show_progress: bool) -> np.ndarray:
        return loaded.encode(
            texts,
            show_progress_bar=show_progress,
            max_length=self.max_length,
            batch_size=self.batch_size,
            use_multiprocessing=False,
        )

    # -- distillation -----------------------------------------------------------------------
    def _distilled_folder(
        self, resolved: str, root: Path, settings: dict[str, Any], device: str
    ) -> Path:
        """The cached model2vec folder for ``resolved`` and ``settings``, distilling if absent."""
        identity, version = model_identity(resolved), _model2vec_version()
        provenance = {"format": _FORMAT, "source": identity, **settings, "model2vec": version}
        folder = keyed_folder(root, self.model, resolved, provenance)
        if folder.is_dir():
            return folder
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way
            raise ValueError(f"cache_dir {root} cannot hold distilled models: {exc}") from exc
        show = self.show_progress_bar is not False
        announce = f"distilling {self.model} into a static model" if show else None
        with building(folder, Path.is_dir, announce) as tmp:
            source = str(local_folder(resolved) or resolved)
            static = _distil(source, settings["dim"], settings["sif_coefficient"], device, show)
            static.save_pretrained(tmp)
            provenance["model"] = os.fspath(self.model)
            (tmp / _PROVENANCE).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
        return folder
