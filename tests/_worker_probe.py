"""Count model loads and encoded texts inside worker processes (Dask workers, Ray actors).

``install`` wraps ``SentenceTransformer.__init__`` and ``encode`` in the process it runs
in; ``read`` returns the counts. The test ships both to the workers by value
(``cloudpickle.register_pickle_by_value``), so the workers need not import this file.
"""

from __future__ import annotations


def install() -> bool:
    import sentence_transformers as st

    if getattr(st, "_embkit_probe", None) is not None:
        return False
    counts = {"loads": 0, "texts": 0}
    init, encode = st.SentenceTransformer.__init__, st.SentenceTransformer.encode

    def counting_init(self, *args, **kwargs):
        counts["loads"] += 1
        init(self, *args, **kwargs)

    def counting_encode(self, inputs, *args, **kwargs):
        counts["texts"] += len(inputs)
        return encode(self, inputs, *args, **kwargs)

    st.SentenceTransformer.__init__ = counting_init
    st.SentenceTransformer.encode = counting_encode
    st._embkit_probe = counts
    return True


def read() -> dict[str, int]:
    import sentence_transformers as st

    return dict(st._embkit_probe)
