"""Tokenised batches of the body trainers (embkit._training.tokens): padding, masks, order."""

from __future__ import annotations

import numpy as np
import torch

from embkit._training.tokens import Tokenized


def test_batches_match_the_tokenizer_padding_each_batch_to_its_longest_text(model_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    texts = ["a", "a much longer sentence about films and books", "", "two words", "a " * 300]
    tokens = Tokenized(tokenizer, texts, max_length=32)
    assert tokens.lengths.tolist()[-1] == 32  # truncated to max_length
    for idx in ([0], [3, 1], [4, 2, 0], [1, 1]):
        batch = tokens.batch(idx, torch.device("cpu"))
        expected = tokenizer(
            [texts[i] for i in idx], truncation=True, max_length=32, padding="longest"
        )
        assert batch.keys() == {"input_ids", "token_type_ids", "attention_mask"}
        for key, value in batch.items():
            assert value.dtype == torch.int64
            np.testing.assert_array_equal(value.numpy(), np.asarray(expected[key]))
