"""Reading and writing: the embedding cache, safe persistence, data set loaders.

``cache`` (EmbeddingCache), ``persistence`` (``embkit.save``/``load``, no pickle) with
``tagged_json`` and ``allowed_classes``, ``datasets`` (loaders) over ``_rows`` (parsers).
May import ``embkit._core`` and ``embkit._training``; the classes it saves are found through
``embkit``'s public names.
"""
