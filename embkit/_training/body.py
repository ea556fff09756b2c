"""Private machinery of the estimators that fine-tune a sentence-transformers body.

``SbertLearner``, ``SbertTuner`` and ``FineTuneClassifier`` share: loading a private copy of
the body (the caller's model object is never trained in place), tokenising with the
model's own tokenizer and dynamic padding, length-bucketed batches, a linear warm-up /
decay schedule, seeded passes that leave torch's global RNG as it was, and pickling of
tuned weights as a CPU state dict.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from embkit._core.device import loadable_device
from embkit._core.models import DEFAULT_MODEL as DEFAULT_MODEL  # re-exported for the estimators
from embkit._core.models import resolve_model

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

_MAX_SEED = 2**63 - 1


def load_body(model: Any, device: torch.device) -> SentenceTransformer:
    """A private copy of ``model`` (a name, a folder or a ``SentenceTransformer``) on ``device``.

    Examples
    --------
    >>> import torch
    >>> body = load_body("all-MiniLM-L6-v2", torch.device("cpu"))
    >>> body.get_embedding_dimension()
    384
    """
    from sentence_transformers import SentenceTransformer

    if isinstance(model, SentenceTransformer):
        return copy.deepcopy(model).to(device)
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, str):
        raise TypeError(
            "model must be a model name, a folder path or a SentenceTransformer, "
            f"got {type(model).__name__}"
        )
    try:
        return SentenceTransformer(resolve_model(model), device=str(device))
    except OSError as exc:
        raise ValueError(
            f"model={model!r} could not be loaded offline; pass a local folder or a name that "
            "is in the local cache"
        ) from exc


def check_similarity(y: Any, n: int, *, name: str = "y") -> np.ndarray:
    """Validate pair targets: ``n`` finite numbers (similarity scores), as float32."""
    if y is None:
        raise TypeError(f"{name} must be an array of similarity scores, got None")
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must contain numbers (similarity scores, e.g. 1.0 similar, 0.0 dissimilar), "
            f"got dtype {arr.dtype}"
        )
    if arr.shape[0] != n:
        raise ValueError(
            f"texts and {name} have different lengths: {n} pairs, {arr.shape[0]} in {name}"
        )
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


class Tokenized:
    """Texts tokenised once (no padding); batches are padded to their own longest text.

    The token columns are kept flat, one ``int64`` array per key with each text's offset,
    so a batch is gathered with one vectorised index per key.

    Examples
    --------
    >>> class Toy:  # a tokenizer that maps each word to its length
    ...     pad_token_id = 0
    ...     def __call__(self, texts, **kwargs):
    ...         ids = [[len(w) for w in t.split()] for t in texts]
    ...         return {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}
    >>> tokens = Tokenized(Toy(), ["a bb", "ccc", "dd e ffff"], max_length=8)
    >>> tokens.batch([2, 1], torch.device("cpu"))["input_ids"].tolist()
    [[2, 1, 4], [3, 0, 0]]
    """

    def __init__(self, tokenizer: Any, texts: Sequence[str], max_length: int) -> None:
        enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
        self.keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        self.lengths = np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64)
        self.offsets = np.cumsum(self.lengths) - self.lengths
        self.flat = {
            k: np.fromiter(
                (token for row in enc[k] for token in row), dtype=np.int64, count=self.lengths.sum()
            )
            for k in self.keys
        }
        self.pad_id = int(tokenizer.pad_token_id or 0)

    def __len__(self) -> int:
        return len(self.lengths)

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


def linear_schedule(
    optimizer: torch.optim.Optimizer, n_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_ratio * n_steps`` steps, then linear decay to zero."""
    warmup = int(round(warmup_ratio * n_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (n_steps - step) / max(1, n_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@contextmanager
def seeded_torch(rng: np.random.Generator, device: torch.device) -> Iterator[None]:
    """Seed torch for one pass (dropout inside the body), restoring the global RNG afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(int(rng.integers(_MAX_SEED)))
        yield


@contextmanager
def unchanged_on_error(estimator: Any) -> Iterator[None]:
    """Undo any attribute change made inside the block if it raises."""
    snapshot = estimator.__dict__.copy()
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(snapshot)
        raise


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of ``module``'s state dict (for pickling)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def restore_device(device: Any) -> torch.device:
    """The device to restore a pickled model onto: the saved one if available, else the CPU."""
    return loadable_device(device)


def encode_body(
    body: SentenceTransformer,
    texts: Sequence[str],
    *,
    batch_size: int,
    max_length: int,
    device: torch.device,
    show_progress_bar: bool | None = None,
) -> np.ndarray:
    """Sentence embeddings from ``body`` in eval mode, length-sorted batches; float32."""
    from tqdm.auto import tqdm

    dim = body.get_embedding_dimension()
    if len(texts) == 0:
        return np.empty((0, dim), dtype=np.float32)
    tokens = Tokenized(body.tokenizer, texts, max_length)
    out = np.empty((len(texts), dim), dtype=np.float32)
    batches = bucketed_batches(tokens.lengths, batch_size, None)
    was_training = body.training
    body.eval()
    try:
        with torch.inference_mode():
            for idx in tqdm(batches, desc="encode", disable=not show_progress_bar, leave=False):
                emb = body(tokens.batch(idx, device))["sentence_embedding"]
                out[idx] = emb.float().cpu().numpy()
    finally:
        body.train(was_training)
    return out


# models whose position ids start after the padding index: two rows of the table unused
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet")


def position_limit(body: SentenceTransformer) -> int | None:
    """The longest input, in tokens, the body's position table can take (None if unknown).

    Read from the transformer's ``max_position_embeddings`` (less the two rows that
    RoBERTa-style models skip), else from the tokenizer's ``model_max_length``
    (sentence-transformers sets that to the body's ``max_seq_length``, often shorter).
    """
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
    """``max_length`` or the body's own maximum sequence length (512 when it has none).

    A ``max_length`` beyond the body's position table is refused with a ValueError here,
    before any training step (torch would fail with a bare IndexError on a long text).
    """
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


def check_label_types(y: Any, *, name: str = "y") -> None:
    """Refuse labels that mix strings and numbers (numpy would silently turn all into str)."""
    if isinstance(y, np.ndarray) and y.dtype != object:
        return
    items = y.tolist() if hasattr(y, "tolist") else list(y) if y is not None else []
    flat = [v for row in items for v in (row if isinstance(row, (list, tuple)) else [row])]
    has_str = any(isinstance(v, str) for v in flat)
    if has_str and not all(isinstance(v, str) for v in flat):
        kinds = sorted({type(v).__name__ for v in flat})
        raise TypeError(f"{name} mixes label types {kinds}: use only strings or only numbers")


def make_adamw(
    params: Any, *, lr: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW, fused where torch supports it: on CPU the fused step is about 10x faster."""
    params = list(params)
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
