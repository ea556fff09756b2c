"""The in-memory embedding cache that encoders without ``cache=`` use."""

from __future__ import annotations

import numpy as np
import pytest

from embkit.io.memory_cache import MemoryCache, memory_cache


def test_rows_come_back_by_namespace_and_text():
    cache = MemoryCache(max_bytes=1 << 20)
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache.set_many("a", ["x", "y", "z"], vectors)
    vectors[:] = -1  # the cache holds its own copy
    found, got = cache.get_many("a", ["z", "w", "x"], 2)
    assert found.tolist() == [0, 2] and got.tolist() == [[4.0, 5.0], [0.0, 1.0]]
    assert got.dtype == np.float32
    assert cache.get_many("b", ["x"], 2)[0].tolist() == []  # another namespace: a miss
    assert cache.get_many("a", ["x"], 3)[0].tolist() == []  # another width: a miss
    got[:] = 7  # callers may write into what they get
    assert cache.get_many("a", ["x"], 2)[1].tolist() == [[0.0, 1.0]]


def test_a_kept_row_does_not_keep_its_whole_batch_alive():
    # rows were views into one copy of their batch: a row kept in use kept its batch
    import tracemalloc

    one = 100 * 4 + 4 + 160  # a row of 100 float32, a short key and the overhead
    cache = MemoryCache(max_bytes=300 * one)
    tracemalloc.start()
    for batch in range(30):
        texts = [f"{batch:02d}-{i:02d}" for i in range(100)]
        cache.set_many("n", texts, np.ones((100, 100), dtype=np.float32))
        # the first text of every batch is used again, so it stays in the cache
        cache.get_many("n", [f"{b:02d}-00" for b in range(batch + 1)], 100)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert cache.get_many("n", ["00-00"], 100)[0].tolist() == [0]
    assert held < 600_000  # the budget (about 170 kB) and bookkeeping, not 30 batches


def test_least_recently_used_rows_go_first_past_the_budget():
    row = np.zeros((1, 100), dtype=np.float32)
    one = row.nbytes + 1 + 160  # a row, its one-letter key and the overhead
    cache = MemoryCache(max_bytes=3 * one)
    for text in "abc":
        cache.set_many("n", [text], row)
    cache.get_many("n", ["a"], 100)  # "a" is used again: "b" is now the oldest
    cache.set_many("n", ["d"], row)
    assert len(cache) == 3
    assert cache.get_many("n", list("abcd"), 100)[0].tolist() == [0, 2, 3]


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EMBKIT_MEMORY_CACHE_MB", "0")
    assert memory_cache() is None
    monkeypatch.setenv("EMBKIT_MEMORY_CACHE_MB", "1.5")
    assert memory_cache().max_bytes == int(1.5 * 2**20)
    for bad in ("-1", "lots", "nan", "inf"):
        monkeypatch.setenv("EMBKIT_MEMORY_CACHE_MB", bad)
        with pytest.raises(ValueError, match="EMBKIT_MEMORY_CACHE_MB must be a finite number"):
            memory_cache()
