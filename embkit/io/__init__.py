"""Reading and writing: the embedding cache, safe persistence, data set loaders.

``cache`` (EmbeddingCache, SQLite), ``persistence`` (``embkit.save`` / ``embkit.load``,
no pickle) with ``tagged_json`` (its value format) and ``allowed_classes`` (the classes it
builds and the state protocol estimators follow), ``datasets`` (JSONL / CSV / text loaders,
batches for streaming) over ``_rows`` (the formats' parsers and per-row checks).
May import ``embkit._core`` and ``embkit._training``; the classes it saves are found through
``embkit``'s public names.
"""
