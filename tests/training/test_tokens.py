"""Tokenised batches of the body trainers (embkit._training.tokens): padding, masks, order."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_texts_cut_at_max_length_warn_once_naming_window_and_model(model_path, monkeypatch):
    import warnings

    from transformers import AutoTokenizer

    import embkit
    import embkit._core.models as models
    import embkit._training.tokens as tokens_module

    monkeypatch.setattr(tokens_module, "_TRUNCATION_WARNED", set())
    monkeypatch.setattr(models, "_counting_copies", counting_copies := {})
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    exact = "one two three four five six"  # 6 words + 2 special tokens: exactly 8, not cut
    assert len(tokenizer(exact)["input_ids"]) == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Tokenized(tokenizer, [exact, "short"], max_length=8, warn_as="m")  # nothing cut
        Tokenized(tokenizer, ["a " * 50], max_length=8)  # no name: no check
    assert not counting_copies  # a refit's tokenizer is not kept alive by the count
    texts = [exact, "a " * 50, "b " * 20]
    with pytest.warns(
        embkit.TextTruncatedWarning,
        match=r"2 of the texts .* 8-token window of 'm' \(the longest has 52",
    ):
        Tokenized(tokenizer, texts, max_length=8, warn_as="m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Tokenized(tokenizer, texts, max_length=8, warn_as="m")  # once per model and window
    with pytest.warns(embkit.TextTruncatedWarning, match="16-token window"):
        Tokenized(tokenizer, texts, max_length=16, warn_as="m")
