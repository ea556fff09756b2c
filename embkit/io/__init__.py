"""Reading and writing: the embedding cache, safe persistence, data set loaders.

``cache`` (EmbeddingCache, SQLite), ``persistence`` (``embkit.save`` / ``embkit.load``,
no pickle), ``datasets`` (JSONL / CSV / text loaders, batches for streaming).
May import ``embkit._core``; ``persistence`` also reads the estimator classes it saves.
"""
