"""A tiny randomly initialised BERT saved as a sentence-transformers folder, for fast tests.

Distilling it with model2vec takes well under a second (about 85 tokens, hidden size 32),
where the real MiniLM takes half a minute or more. Its vectors mean nothing; the tests only
need a real transformer folder that behaves like any other. Like all-MiniLM-L6-v2, its
tokenizer pads every text to a fixed length (here ``PAD_TO`` tokens), which a static model
must not inherit.
"""

from __future__ import annotations

import json
from pathlib import Path

WORDS = (
    "i feel wonderful today this is terrible news a quiet afternoon ok happy sad text "
    "good bad great movie film love hate very not so really the and of to was it"
).split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
PAD_TO = 16


def write_tiny_sentence_transformer(folder: Path, hidden: int = 32) -> Path:
    """Write the tiny model to ``folder`` (transformer in ``0_Transformer``) and return it."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    inner = folder / "0_Transformer"
    inner.mkdir(parents=True)
    vocab = SPECIAL + LETTERS + [f"##{c}" for c in LETTERS] + sorted(set(WORDS) - set(LETTERS))
    (inner / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers >= 5 takes the vocabulary itself; older releases read vocab_file.
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)})
    if len(tokenizer) != len(vocab):  # pragma: no cover - transformers < 5
        tokenizer = BertTokenizerFast(vocab_file=str(inner / "vocab.txt"))
    tokenizer.backend_tokenizer.enable_padding(length=PAD_TO, pad_id=0, pad_token="[PAD]")
    tokenizer.save_pretrained(inner)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching global state
        torch.manual_seed(0)
        net = BertModel(config)
    net.save_pretrained(inner)
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "0_Transformer",
            "type": "sentence_transformers.Transformer",
        }
    ]
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    return folder


def write_tiny_sentence_model(folder: Path, hidden: int = 32, max_seq_length: int = 24) -> Path:
    """The tiny BERT as a full sentence-transformers model: mean pooling and normalisation.

    ``folder/bert`` holds the transformer, ``folder/model`` the sentence model (returned),
    loadable with ``SentenceTransformer(path)`` and with a short window
    (``max_seq_length``) so that truncation is cheap to reach.
    """
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # pragma: no cover - sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer

    inner = write_tiny_sentence_transformer(folder / "bert", hidden) / "0_Transformer"
    body = Transformer(str(inner), max_seq_length=max_seq_length)
    st = SentenceTransformer(modules=[body, Pooling(hidden, "mean"), Normalize()], device="cpu")
    st.save(str(folder / "model"))
    return folder / "model"
