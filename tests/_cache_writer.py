"""The worker of the two-process cache test, in a light module (spawned children import it)."""

from __future__ import annotations

import zlib

import numpy as np

from embkit.io.cache import EmbeddingCache


def fake_vectors(texts, dim=8):
    """Deterministic vectors that depend on the text only (the same in every process)."""
    rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=dim) for t in texts]
    return np.stack(rows).astype(np.float32) if rows else np.empty((0, dim), np.float32)


def write_and_read(path: str, worker: int, n_batches: int, barrier) -> None:
    """Write overlapping batches (both processes write the same keys) and read them back."""
    cache = EmbeddingCache(path)
    barrier.wait()  # start together
    for b in range(n_batches):
        texts = [f"text {i}" for i in range(b * 50, b * 50 + 100)]
        cache.set_many("ns", texts, fake_vectors(texts))
        found, got = cache.get_many("ns", texts, dim=8)
        assert len(found) == len(texts), (worker, b)
        np.testing.assert_array_equal(got, fake_vectors(texts))


def write_forever(path: str, started) -> None:
    """Write large batches of new texts until killed (the kill -9 test's victim)."""
    cache = EmbeddingCache(path)
    b = 0
    while True:
        texts = [f"batch {b} text {i}" for i in range(2000)]
        cache.set_many("ns", texts, fake_vectors(texts, dim=64))
        b += 1
        started.set()
