"""Encoders: stateless scikit-learn transformers from texts to vectors.

``sentence`` (SentenceEncoder, sentence-transformers models), ``transformer``
(TransformerEncoder, any Hugging Face encoder with pooling), ``static`` (StaticEncoder,
model2vec static embeddings distilled locally), on the shared ``_base`` (batching,
caching, truncation warnings).
May import ``embkit._core`` and ``embkit.io.cache``.
"""
