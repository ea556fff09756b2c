"""Texts as token batches for a sentence-transformers body, and encoding with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from embkit._core.truncation import warn_once

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer


# (model, window) already warned about truncation in this process
_TRUNCATION_WARNED: set[tuple[str, int]] = set()


class Tokenized:
    """Texts tokenised once, kept flat per key; a batch is padded to its own longest text.

    With ``warn_as`` (the model's name), texts cut at ``max_length`` raise a
    :class:`~embkit.TextTruncatedWarning`, once per process, model and window.
    """

    def __init__(
        self, tokenizer: Any, texts: Sequence[str], max_length: int, *, warn_as: str | None = None
    ) -> None:
        enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
        self.keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        self.lengths = np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64)
        if warn_as is not None:
            _warn_if_cut(tokenizer, texts, self.lengths, max_length, warn_as)
        self.offsets = np.cumsum(self.lengths) - self.lengths
        self.flat = {
            k: np.fromiter(
                (token for row in enc[k] for token in row), dtype=np.int64, count=self.lengths.sum()
            )
            for k in self.keys
        }
        self.pad_id = int(tokenizer.pad_token_id or 0)

    def batch(self, idx: Sequence[int], device: torch.device) -> dict[str, torch.Tensor]:
        idx = np.asarray(idx, dtype=np.int64)
        lengths = self.lengths[idx]
        width = int(lengths.max())
        column = np.arange(width)
        valid = column < lengths[:, None]
        positions = np.where(valid, self.offsets[idx][:, None] + column, 0)
        out = {}
        for key in self.keys:
            fill = self.pad_id if key == "input_ids" else 0
            arr = np.where(valid, self.flat[key][positions], fill)
            out[key] = torch.from_numpy(arr).to(device)
        return out


def _warn_if_cut(
    tokenizer: Any, texts: Sequence[str], lengths: np.ndarray, max_length: int, model: str
) -> None:
    """Warn when texts were cut at ``max_length``: only those that reach it are counted."""
    at_limit = np.flatnonzero(lengths >= max_length)
    if not len(at_limit):
        return

    def count() -> tuple[int, int]:
        # the body's tokenizer is its own (never a shared one), so it counts directly: a
        # cached counting copy would keep every refit's tokenizer alive
        rows = [texts[i] for i in at_limit]
        ids = tokenizer(rows, truncation=False, verbose=False)["input_ids"]
        full = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(rows))
        return int((full > max_length).sum()), int(full.max())

    warn_once(_TRUNCATION_WARNED, (model, max_length), count, max_length, model)


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None
) -> list[np.ndarray]:
    """Mini-batches of similar length: shuffle, sort within chunks of 50 batches, shuffle batches.

    Without ``rng`` the batches are in sorted order (for inference).
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[s : s + batch_size] for s in range(0, n, batch_size)]
    order = rng.permutation(n)
    chunk = batch_size * 50
    batches = []
    for s in range(0, n, chunk):
        part = order[s : s + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[b : b + batch_size] for b in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def encode_body(
    body: SentenceTransformer,
    texts: Sequence[str],
    *,
    batch_size: int,
    max_length: int,
    device: torch.device,
    show_progress_bar: bool | None = None,
    warn_as: str | None = None,
) -> np.ndarray:
    """Sentence embeddings from ``body`` in eval mode, length-sorted batches; float32.

    ``warn_as`` names the model in the warning for texts cut at ``max_length``.
    """
    from tqdm.auto import tqdm

    dim = body.get_embedding_dimension()
    if len(texts) == 0:
        return np.empty((0, dim), dtype=np.float32)
    tokens = Tokenized(body.tokenizer, texts, max_length, warn_as=warn_as)
    out = np.empty((len(texts), dim), dtype=np.float32)
    batches = bucketed_batches(tokens.lengths, batch_size, None)
    was_training = body.training
    body.eval()
    try:
        with torch.inference_mode():
            for idx in tqdm(batches, desc="encode", disable=not show_progress_bar, leave=False):
                emb = body(tokens.batch(idx, device))["sentence_embedding"]
                # a body with truncate_dim keeps the first ``dim`` values, as its encode()
                out[idx] = emb[:, :dim].float().cpu().numpy()
    finally:
        body.train(was_training)
    return out


# models whose position ids start after the padding index: two rows of the table unused
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet")


def position_limit(body: SentenceTransformer) -> int | None:
    """The longest input in tokens the body's position table takes (None if unknown):
    ``max_position_embeddings`` (less RoBERTa's two), else the tokenizer's limit."""
    first = body[0] if len(body) else None
    config = getattr(getattr(first, "auto_model", None), "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        offset = 2 if getattr(config, "model_type", None) in _OFFSET_POSITIONS else 0
        return positions - offset
    limit = getattr(getattr(body, "tokenizer", None), "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:  # no limit reads as a huge number
        return limit
    return None


def body_max_length(body: SentenceTransformer, max_length: int | None) -> int:
    """``max_length`` (refused beyond the position table, where torch would raise an
    IndexError) or the body's own maximum sequence length (512 when it has none)."""
    limit = position_limit(body)
    if max_length is not None:
        if limit is not None and max_length > limit:
            raise ValueError(
                f"max_length={max_length} is longer than the model takes: its position table "
                f"holds {limit} tokens; use max_length <= {limit}"
            )
        return int(max_length)
    own = int(body.max_seq_length or 512)
    return min(own, limit) if limit is not None else own
