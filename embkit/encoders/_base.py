"""The private base of the text encoders: validation, fitted state, cache, pickling.

A subclass says how to load its model (``_load``, ``_dim``) and embed texts (``_encode``).
The base validates, embeds each distinct text once through the cache, warns on truncation,
and keeps the loaded model in the process-wide registry (:mod:`embkit._core.models`), never
on the estimator: pickles and clones hold the model's name only.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from embkit._core.device import loadable_device, resolve_device
from embkit._core.models import count_tokens, model_identity, reload_if_changed
from embkit._core.truncation import TextTruncatedWarning, warn_once  # noqa: F401
from embkit._core.validation import POSITIVE_INT, check_texts
from embkit.io.cache import as_cache
from embkit.io.memory_cache import memory_cache

# With show_progress_bar=None, a progress bar appears when more texts reach the model
# and someone can see it (see ``interactive``).
PROGRESS_MIN_TEXTS = 1000


def interactive() -> bool:
    """Whether a progress bar can be watched: stderr is a terminal or a notebook runs us.

    Redirected to a log file or a CI job, a bar's every refresh would be a line there.
    """
    stream = getattr(sys, "stderr", None)
    return bool(stream is not None and stream.isatty()) or "ipykernel" in sys.modules


# (encoder class, model, window) already warned about truncation in this process
_TRUNCATION_WARNED: set[tuple[str, str, int]] = set()
_NOT_IN_VECTORS = {"cache", "show_progress_bar", "batch_size", "onnx_threads"}


class TextEncoderBase(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What the text encoders share (see the module docstring)."""

    _cache_kind = "base"
    _width_from_cache = True  # fit reads the width from the cache instead of loading the model
    _parameter_constraints: dict = {
        "batch_size": [POSITIVE_INT],
        "show_progress_bar": ["boolean", None],
    }

    # -- hooks ----------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Rules between parameters that ``_parameter_constraints`` cannot say (in ``fit``)."""

    def _load(self, device: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dim(self, loaded: Any) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode(self, loaded: Any, texts: list[str], show_progress: bool) -> np.ndarray:
        """Embed ``texts`` with the loaded model: float32 array of shape (len(texts), dim)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _cache_settings(self) -> dict[str, Any]:
        """Settings besides the model that change the raw vectors (part of the cache key)."""
        return {}

    def _normalize_output(self) -> bool:
        return False

    def _fitted_extra(self, device: Any) -> dict[str, Any]:
        """More fitted attributes, set by ``fit`` with the others."""
        return {}

    def _resolve_device(self) -> Any:
        """The device ``fit`` records in ``device_`` (``device="auto"`` resolved)."""
        if getattr(self, "backend", "torch") == "onnx" and self.device in ("auto", None):
            return resolve_device("cpu")  # onnxruntime runs on the CPU here
        return resolve_device(self.device)

    def _window(self, loaded: Any) -> tuple[Any, int] | None:
        """``(tokenizer, max_tokens)`` beyond which the model truncates (sentence-transformers)."""
        tokenizer = getattr(loaded, "tokenizer", None)
        limit = getattr(loaded, "max_seq_length", None)
        positions = getattr(loaded, "positions", None)  # an ONNX graph's position table
        if positions and (not limit or limit > positions):
            limit = positions
        return (tokenizer, int(limit)) if tokenizer is not None and limit else None

    # -- scikit-learn -----------------------------------------------------------------------
    @classmethod
    def _unit_test_params(cls) -> dict:
        """Cheap constructor arguments for tests/test_text_estimators.py (the bundled model)."""
        return {"device": "cpu", "batch_size": 8}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def fit(self, X: Any, y: Any = None) -> TextEncoderBase:
        """Check the parameters and texts and load the (shared) model.

        Nothing is learned from ``X``: fitting is cheap and fitting again gives the same
        state.

        Parameters
        ----------
        X : list, tuple, numpy array or pandas Series of str
            The texts (validated, otherwise unused).
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        self
        """
        self._validate_params()
        reload_if_changed(self.model)  # also the type check of ``model``
        as_cache(self.cache)  # type check of ``cache``
        self._check_params()
        check_texts(X)
        # checked first, changed last: a failing fit leaves a fitted encoder as it was
        device = self._resolve_device()
        dim = self._recorded_width()  # every text cached: no model needed at all
        if dim is None:
            dim = int(self._dim(self._loaded(device)))
            self._record_width(dim)
        extra = self._fitted_extra(device)
        self.device_ = device
        self.embedding_dim_ = dim
        self._n_features_out = dim
        self._fitted_for = self._vector_settings()
        self.__dict__.update(extra)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embed the texts.

        Parameters
        ----------
        X : list, tuple, numpy array or pandas Series of str
            The texts. An empty sequence gives an array of shape ``(0, embedding_dim_)``.

        Returns
        -------
        ndarray of float32, shape (n_texts, embedding_dim_)
        """
        check_is_fitted(self)
        texts = check_texts(X)
        self._check_unchanged_width()
        return self._embed(texts)

    # -- implementation ---------------------------------------------------------------------
    def _loaded(self, device: Any = None) -> Any:
        """The model for the current parameters, from the process-wide registry."""
        if device is None:
            device = loadable_device(self.device_)
        return self._load(device)

    def _vector_settings(self) -> str:
        """The parameters as ``fit`` saw them, but those that never change the vectors.

        Read from the parameters alone, so checking it costs no file access per call.
        """
        params = self.get_params(deep=False)
        kept = {k: repr(v) for k, v in params.items() if k not in _NOT_IN_VECTORS}
        return json.dumps(kept, sort_keys=True)

    def _check_unchanged_width(self) -> None:
        """After ``set_params`` that changes the vectors, check they keep the fitted width.

        Switching the backend of a fitted encoder (torch to ONNX for serving) is fine; a
        model of another width is a clear error, not numpy's broadcast error later.
        """
        settings = self._vector_settings()
        if getattr(self, "_fitted_for", None) == settings:
            return
        self._validate_params()
        self._check_params()
        self._check_width(self._recorded_width() or int(self._dim(self._loaded())))
        self._fitted_for = settings

    def _check_width(self, dim: int) -> None:
        """A clear "call fit again" when the model now gives vectors of another length (new
        parameters, or its folder saved again), not numpy's broadcast error later."""
        if dim != self.embedding_dim_:
            raise ValueError(
                f"{type(self).__name__}(model={self.model!r}, ...) now gives vectors of length "
                f"{dim}, fitted for {self.embedding_dim_}; call fit again"
            )

    def _recorded_width(self) -> int | None:
        """The vector length the embedding cache recorded for these settings, if any."""
        cache = as_cache(self.cache)
        if cache is None or not self._width_from_cache:
            return None
        try:
            return cache.get_width(self._cache_namespace())
        except (ValueError, sqlite3.Error):  # unusable or busy: transform says so if needed
            return None

    def _record_width(self, dim: int) -> None:
        cache = as_cache(self.cache)
        if cache is not None and self._width_from_cache:
            try:
                cache.set_width(self._cache_namespace(), dim)
            except (ValueError, sqlite3.Error):  # read-only, unusable or busy: not recorded
                pass

    def _cache_namespace(self, reload: bool = False) -> str:
        """The cache namespace: model identity and the settings that change the vectors."""
        settings = {
            "kind": self._cache_kind,
            "model": model_identity(self.model, reload=reload),
            **self._cache_settings(),
        }
        return json.dumps(settings, sort_keys=True)

    def _embed(self, texts: list[str]) -> np.ndarray:
        dim = self.embedding_dim_
        if not texts:
            return np.empty((0, dim), dtype=np.float32)
        first: dict[str, int] = {}
        inverse = np.fromiter(
            (first.setdefault(t, len(first)) for t in texts), dtype=np.intp, count=len(texts)
        )
        unique = list(first) if len(first) < len(texts) else texts
        # without cache=, the process's in-memory cache: clones in a sweep share vectors
        cache = as_cache(self.cache)
        cache = memory_cache() if cache is None else cache  # (an empty cache is falsy)
        if cache is None:
            vectors = self._run_model(unique)
        else:
            # vectors go under the weights the folder holds now (reloaded if saved again)
            namespace = self._cache_namespace(reload=True)
            found, cached = cache.get_many(namespace, unique, dim)
            if len(found) == len(unique):
                vectors = cached
            else:
                missing = np.ones(len(unique), dtype=bool)
                missing[found] = False
                missing_idx = np.flatnonzero(missing)
                new_texts = [unique[i] for i in missing_idx]
                new = self._run_model(new_texts)
                cache.set_many(namespace, new_texts, new)
                vectors = np.empty((len(unique), dim), dtype=np.float32)
                vectors[found] = cached
                vectors[missing_idx] = new
        if len(unique) < len(texts):
            vectors = vectors[inverse]
        if self._normalize_output():
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            np.maximum(norms, 1e-12, out=norms)
            vectors /= norms
        return vectors

    def _run_model(self, texts: list[str]) -> np.ndarray:
        show = self.show_progress_bar
        if show is None:
            show = len(texts) > PROGRESS_MIN_TEXTS and interactive()
        loaded = self._loaded()
        self._warn_truncation(loaded, texts)
        vectors = np.asarray(self._encode(loaded, texts, bool(show)), dtype=np.float32)
        self._check_width(vectors.shape[1])  # the folder may have been saved again since fit
        return vectors

    def _warn_truncation(self, loaded: Any, texts: list[str]) -> None:
        """Warn (once per process, model and window) when texts exceed the model's window.

        Only texts whose UTF-8 length could exceed it are tokenised (a token covers a byte
        or more), so short texts cost nothing.
        """
        window = self._window(loaded)
        if window is None:
            return
        tokenizer, limit = window
        key = (type(self).__name__, str(self.model), limit)
        if key in _TRUNCATION_WARNED:  # the usual case, without the lock
            return
        # a UTF-8 character is 4 bytes at most: only texts that could pass are encoded
        candidates = [t for t in texts if 4 * len(t) + 2 > limit and len(t.encode()) + 2 > limit]
        if not candidates:
            return

        def count() -> tuple[int, int]:
            lengths = count_tokens(tokenizer, candidates)
            return sum(n > limit for n in lengths), max(lengths)

        warn_once(_TRUNCATION_WARNED, key, count, limit, str(self.model))
