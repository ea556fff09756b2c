"""Small torch modules used by the tuners, learners and heads (no scikit-learn here).

Every module is built on the ``meta`` device and initialised with an explicit
:class:`torch.Generator`, so weight initialisation never touches torch's global RNG.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = ("relu", "gelu", "tanh", "identity")


def check_layer_params(activation: str, dropout: float) -> None:
    """Validate the ``activation`` and ``dropout`` parameters of a network (at fit time)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise TypeError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return F.relu(x)
    if name == "gelu":
        return F.gelu(x)
    if name == "tanh":
        return torch.tanh(x)
    return x


def dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout drawing its mask from ``generator`` (not the global RNG)."""
    if p <= 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p
    return x * keep / (1.0 - p)


def init_linear_(layer: nn.Linear, generator: torch.Generator) -> None:
    """Initialise ``layer`` like torch's default, but from ``generator``."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class MLP(nn.Module):
    """``input -> [hidden -> activation -> dropout] -> output``.

    ``embed`` returns the hidden layer (or the output when there is no hidden layer);
    ``forward`` returns the output layer (logits, or the learned embedding).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        hidden_dim: int | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.dropout = float(dropout)
        if hidden_dim is None:
            self.hidden = None
            self.out = nn.Linear(n_in, n_out, device="meta")
        else:
            self.hidden = nn.Linear(n_in, hidden_dim, device="meta")
            self.out = nn.Linear(hidden_dim, n_out, device="meta")

    def materialize_(self, device: torch.device, generator: torch.Generator) -> MLP:
        """Allocate the weights on ``device`` and initialise them from ``generator``."""
        self.to_empty(device=device)
        for layer in (self.hidden, self.out):
            if layer is not None:
                init_linear_(layer, generator)
        return self

    def embed(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.hidden is None:
            return x
        h = _activation(self.activation, self.hidden(x))
        if self.training:
            h = dropout(h, self.dropout, generator)
        return h

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.out(self.embed(x, generator))


class Projection(nn.Module):
    """The shared ("siamese") network of the contrastive learner.

    ``input -> linear -> activation [-> dropout -> linear]``; with ``n_layers=1`` it is a
    single linear map followed by the activation.
    """

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

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = _activation(self.activation, x)
                if self.training:
                    x = dropout(x, self.dropout, generator)
        return _activation(self.activation, x) if last == 0 else x


def cosine_pairs(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise cosine similarity that stays finite (0) for all-zero vectors."""
    return (F.normalize(a, dim=1, eps=eps) * F.normalize(b, dim=1, eps=eps)).sum(dim=1)


def gathered_cosine(
    emb: torch.Tensor, idx1: torch.Tensor, idx2: torch.Tensor, eps: float = 1e-8
) -> torch.Tensor:
    """Cosine similarity of the row pairs ``(emb[idx1[k]], emb[idx2[k]])``.

    Each row is normalised once, whatever the number of pairs it takes part in, and the
    pairs are gathered with ``index_select`` (about twice as fast to back-propagate as
    fancy indexing); no ``B x B`` similarity matrix is built.
    """
    unit = F.normalize(emb, dim=1, eps=eps)
    return (unit.index_select(0, idx1) * unit.index_select(0, idx2)).sum(dim=1)
