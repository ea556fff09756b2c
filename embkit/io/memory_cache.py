"""The in-memory embedding cache every encoder without ``cache=`` uses, one per process.

A ``GridSearchCV`` sweep fits a fresh clone of the encoder for every candidate and fold;
without a cache each of them runs the model over the same texts again. This cache keeps
vectors by (settings namespace, text), the namespace being the one the disk cache uses
(model weights, backend, quantisation, ...), and drops the least recently used ones past
``EMBKIT_MEMORY_CACHE_MB`` megabytes (default 256; ``0`` turns it off). Nothing is
written to disk: that is what ``cache=`` (:class:`~embkit.io.cache.EmbeddingCache`) is for.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

__all__ = ["MemoryCache", "memory_cache"]

_DEFAULT_MB = 256
_ROW_OVERHEAD = 160  # bytes a stored row costs beyond its values (array and key objects)


class MemoryCache:
    """Vectors by ``(namespace, text)``, least recently used out past ``max_bytes``.

    Parameters
    ----------
    max_bytes : int
        The most the stored vectors (and their keys) may take.

    Examples
    --------
    >>> cache = MemoryCache(max_bytes=10_000)
    >>> cache.set_many("ns", ["a", "b"], np.eye(2, 3, dtype=np.float32))
    >>> found, vectors = cache.get_many("ns", ["b", "c"], 3)
    >>> found.tolist(), vectors.tolist()
    ([0], [[0.0, 1.0, 0.0]])
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._rows: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get_many(self, namespace: str, texts: list[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """``(positions found, their vectors)``, as :meth:`EmbeddingCache.get_many` gives."""
        with self._lock:
            rows = [self._rows.get((namespace, text)) for text in texts]
            found = [i for i, row in enumerate(rows) if row is not None and row.shape[0] == dim]
            for i in found:
                self._rows.move_to_end((namespace, texts[i]))
        vectors = np.stack([rows[i] for i in found]) if found else np.empty((0, dim), np.float32)
        return np.asarray(found, dtype=np.intp), vectors

    def set_many(self, namespace: str, texts: list[str], vectors: np.ndarray) -> None:
        """Keep a copy of each row of ``vectors`` under its text; evict past the budget."""
        with self._lock:
            rows = np.asarray(vectors, dtype=np.float32)
            for text, row in zip(texts, rows, strict=True):
                key = (namespace, text)
                if key not in self._rows:  # an own copy of the row: a view would keep the
                    self._rows[key] = row.copy()  # whole batch alive past the budget
                    self._bytes += row.nbytes + len(text) + _ROW_OVERHEAD
            while self._bytes > self.max_bytes and self._rows:
                (_, text), row = self._rows.popitem(last=False)
                self._bytes -= row.nbytes + len(text) + _ROW_OVERHEAD

    def clear(self) -> None:
        """Drop every vector."""
        with self._lock:
            self._rows.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._rows)


_shared = MemoryCache(_DEFAULT_MB * 2**20)


def memory_cache() -> MemoryCache | None:
    """The process's in-memory cache at ``EMBKIT_MEMORY_CACHE_MB``, or ``None`` when 0.

    Raises
    ------
    ValueError
        If the variable is not a finite number of megabytes >= 0.
    """
    raw = os.environ.get("EMBKIT_MEMORY_CACHE_MB", str(_DEFAULT_MB))
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = -1.0
    if not 0 <= megabytes < float("inf"):
        raise ValueError(
            f"EMBKIT_MEMORY_CACHE_MB must be a finite number of megabytes >= 0, got {raw!r}"
        )
    if megabytes == 0:
        return None
    _shared.max_bytes = int(megabytes * 2**20)  # a smaller budget evicts at the next store
    return _shared
