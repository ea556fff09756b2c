"""Small torch modules of the tuners, learners and heads (no scikit-learn here).

Modules are built on the ``meta`` device and initialised from an explicit generator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = ("relu", "gelu", "tanh", "identity")
_PAIR_CHUNK = 8192  # pairs scored at once without gradients (gathered_cosine)


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return F.relu(x)
    if name == "gelu":
        return F.gelu(x)
    if name == "tanh":
        return torch.tanh(x)
    return x


class DropoutNoise:
    """Seeded source of dropout masks; never touches numpy's or torch's global RNG.

    On the CPU a mask takes 16 bits per element from raw PCG64 draws (faster than
    ``torch.rand``, docs/benchmarks.md): ``p`` is rounded to a multiple of ``1 / 65536``
    and kept values are scaled by the exact inverse keep probability. Other devices draw
    from a ``torch.Generator``.
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self.device = torch.device(device)
        if self.device.type == "cpu":
            self._numpy = np.random.Generator(np.random.PCG64(seed))
            self._torch = None
        else:
            self._numpy = None
            self._torch = torch.Generator(device=self.device).manual_seed(seed)

    def mask(self, shape: tuple[int, ...], p: float, dtype: torch.dtype) -> torch.Tensor:
        """A tensor of ``shape`` holding 0 (dropped) or ``1 / keep probability`` (kept)."""
        if self._numpy is None:
            keep = torch.rand(shape, generator=self._torch, device=self.device) >= p
            return keep.to(dtype) / (1.0 - p)
        n = math.prod(shape)
        words = self._numpy.bit_generator.random_raw((n + 3) // 4)
        draws = words.view(np.uint16)[:n]
        threshold = min(round(p * 65536), 65535)
        scale = np.float32(65536 / (65536 - threshold))
        mask = (draws >= threshold).astype(np.float32)  # faster than np.where
        mask *= scale
        return torch.from_numpy(mask.reshape(shape)).to(dtype)


def dropout(x: torch.Tensor, p: float, noise: DropoutNoise | None) -> torch.Tensor:
    """Inverted dropout drawing its mask from ``noise`` (not the global RNG)."""
    if p <= 0.0 or noise is None:
        return x
    return x * noise.mask(tuple(x.shape), p, x.dtype)


def init_linear_(layer: nn.Linear, generator: torch.Generator) -> None:
    """Initialise ``layer`` like torch's default, but from ``generator``."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class MLP(nn.Module):
    """``input -> [hidden -> activation -> dropout] -> output``; ``embed`` stops before ``out``.

    With ``residual=True`` (needs a hidden layer), ``embed(x) = x + back(h)`` where ``back``
    starts at zero: the untrained network embeds every input as itself.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        hidden_dim: int | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.config = {
            "kind": "MLP", "n_in": n_in, "n_out": n_out, "hidden_dim": hidden_dim,
            "activation": activation, "dropout": float(dropout), "residual": residual,
        }  # fmt: skip
        self.activation = activation
        self.dropout = float(dropout)
        self.back = None
        if hidden_dim is None:
            self.hidden = None
            self.out = nn.Linear(n_in, n_out, device="meta")
        elif residual:
            self.hidden = nn.Linear(n_in, hidden_dim, device="meta")
            self.back = nn.Linear(hidden_dim, n_in, device="meta")
            self.out = nn.Linear(n_in, n_out, device="meta")
        else:
            self.hidden = nn.Linear(n_in, hidden_dim, device="meta")
            self.out = nn.Linear(hidden_dim, n_out, device="meta")

    @property
    def embed_dim(self) -> int:
        """Width of :meth:`embed`'s output."""
        return self.out.in_features

    def materialize_(self, device: torch.device, generator: torch.Generator) -> MLP:
        """Allocate the weights on ``device`` and initialise them from ``generator``."""
        self.to_empty(device=device)
        for layer in (self.hidden, self.out):
            if layer is not None:
                init_linear_(layer, generator)
        if self.back is not None:
            with torch.no_grad():
                self.back.weight.zero_()
                self.back.bias.zero_()
        return self

    def embed(self, x: torch.Tensor, noise: DropoutNoise | None = None) -> torch.Tensor:
        if self.hidden is None:
            return x
        h = _activation(self.activation, self.hidden(x))
        if self.training:
            h = dropout(h, self.dropout, noise)
        if self.back is not None:
            return x + self.back(h)
        return h

    def forward(self, x: torch.Tensor, noise: DropoutNoise | None = None) -> torch.Tensor:
        return self.out(self.embed(x, noise))


class Projection(nn.Module):
    """The siamese network of the contrastive learner: ``linear (-> activation -> dropout
    -> linear) * (n_layers - 1)``; a single layer is followed by the activation."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        n_layers: int = 1,
        activation: str = "identity",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.config = {
            "kind": "Projection", "n_in": n_in, "n_out": n_out, "n_layers": n_layers,
            "activation": activation, "dropout": float(dropout),
        }  # fmt: skip
        self.activation = activation
        self.dropout = float(dropout)
        dims = [n_in] + [n_out] * n_layers
        self.layers = nn.ModuleList(
            nn.Linear(a, b, device="meta") for a, b in zip(dims[:-1], dims[1:], strict=True)
        )

    def materialize_(self, device: torch.device, generator: torch.Generator) -> Projection:
        self.to_empty(device=device)
        for layer in self.layers:
            init_linear_(layer, generator)
        return self

    def forward(self, x: torch.Tensor, noise: DropoutNoise | None = None) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = _activation(self.activation, x)
                if self.training:
                    x = dropout(x, self.dropout, noise)
        return _activation(self.activation, x) if last == 0 else x


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of ``module``'s state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def cosine_pairs(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise cosine similarity that stays finite (0) for all-zero vectors."""
    return (F.normalize(a, dim=1, eps=eps) * F.normalize(b, dim=1, eps=eps)).sum(dim=1)


def gathered_cosine(
    emb: torch.Tensor, idx1: torch.Tensor, idx2: torch.Tensor, eps: float = 1e-8
) -> torch.Tensor:
    """Cosine similarity of the pairs ``(emb[idx1[k]], emb[idx2[k]])``, each row normalised
    once; ``index_select`` back-propagates faster than fancy indexing."""
    unit = F.normalize(emb, dim=1, eps=eps)
    if torch.is_grad_enabled() or len(idx1) <= _PAIR_CHUNK:
        return (unit.index_select(0, idx1) * unit.index_select(0, idx2)).sum(dim=1)
    # scoring (no gradient), e.g. a large hold-out: a chunk of pairs at a time, not all
    return torch.cat(
        [
            (unit.index_select(0, a) * unit.index_select(0, b)).sum(dim=1)
            for a, b in zip(idx1.split(_PAIR_CHUNK), idx2.split(_PAIR_CHUNK), strict=True)
        ]
    )


def pool_tokens(tokens: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per text: "mean" or "max" over the kept tokens, or the first ("cls")."""
    if pooling == "cls":
        return tokens[:, 0]
    m = mask.unsqueeze(-1).to(tokens.dtype)
    if pooling == "max":
        return tokens.masked_fill(m == 0, torch.finfo(tokens.dtype).min).amax(dim=1)
    return (tokens * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


def build_module(config: dict[str, Any]) -> MLP | Projection:
    """The network ``config`` (a module's ``config``) describes, on the ``meta`` device.

    Saved models rebuild their network from it, not from the estimator's parameters, which
    ``set_params`` may have changed since the network was fitted.
    """
    config = dict(config)
    kinds = {"MLP": MLP, "Projection": Projection}
    kind = config.pop("kind", None)
    if kind not in kinds:
        raise ValueError(f"unknown network kind {kind!r}; expected one of {sorted(kinds)}")
    n_in, n_out = config.pop("n_in"), config.pop("n_out")
    return kinds[kind](n_in, n_out, **config)


def config_in_use(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the settings its network never applies: a network without a
    hidden layer has no activation or dropout, a one-layer projection no dropout."""
    unused: tuple[str, ...] = ()
    if config.get("kind") == "MLP" and config.get("hidden_dim") is None:
        unused = ("activation", "dropout")
    elif config.get("kind") == "Projection" and config.get("n_layers") == 1:
        unused = ("dropout",)  # its one layer still ends in the activation
    return {k: v.item() if hasattr(v, "item") else v for k, v in config.items() if k not in unused}
