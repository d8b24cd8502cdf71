"""Mixing network: (W^comb, g) = NN(W^enc, W^rand);  W^out = σ(g)·W^comb + (1 − σ(g))·W^rand.

One fully connected block per style layer (num_ws of them, 14 at 256 px in the paper), computed as a batched
per-layer linear map. Choices the paper leaves open (docs/diverse.md):
- the two codes enter each block concatenated, [W^enc_l, W^rand_l] (2·w_dim inputs);
- `gate`: `layer` = one scalar g_l per style layer, `channel` = one g per channel (w_dim per layer), `none` =
  no gate, W^out = W^comb (the paper's "two-path without gate" ablation);
- `residual` (default): W^comb_l = W^enc_l + Δ_l with the last layer zero-initialised, so training starts
  from W^comb = W^enc and σ(g) = 1/2; `residual: false` makes the block emit W^comb directly.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MixingNetwork", "PerLayerLinear", "GATES"]

GATES = ("layer", "channel", "none")


class PerLayerLinear(nn.Module):
    """A separate linear map per style layer: (B, L, in) -> (B, L, out) with weights (L, in, out)."""

    def __init__(self, num_layers: int, in_features: int, out_features: int, zero_init: bool = False) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default initialisation, per layer
        weight = torch.zeros(num_layers, in_features, out_features)
        bias = torch.zeros(num_layers, out_features)
        if not zero_init:
            weight.uniform_(-bound, bound)
            bias.uniform_(-bound, bound)
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("bli,lio->blo", x, self.weight) + self.bias


class MixingNetwork(nn.Module):
    """(W^enc, W^rand), each (B, L, D) -> dict(ws=W^out, w_comb, gate=g logits (B, L, 1 | D) or None)."""

    def __init__(self, num_ws: int, w_dim: int, hidden: int | None = None, depth: int = 2, gate: str = "layer",
                 residual: bool = True) -> None:
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
        if depth < 1:
            raise ValueError(f"the mixing block needs at least one layer, got depth={depth}")
        hidden = hidden or w_dim
        self.gate_dim = {"layer": 1, "channel": w_dim, "none": 0}[gate]
        dims = [2 * w_dim] + [hidden] * (depth - 1)
        self.hidden = nn.ModuleList(PerLayerLinear(num_ws, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = PerLayerLinear(num_ws, dims[-1], w_dim + self.gate_dim, zero_init=residual)
        self.num_ws, self.w_dim, self.gate, self.residual = num_ws, w_dim, gate, residual

    def forward(self, w_enc: Tensor, w_rand: Tensor) -> dict[str, Tensor | None]:
        if w_enc.shape != w_rand.shape or w_enc.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"W^enc and W^rand must both be (B, {self.num_ws}, {self.w_dim}), got "
                             f"{tuple(w_enc.shape)} and {tuple(w_rand.shape)}")
        h = torch.cat([w_enc, w_rand], dim=2)  # [W^enc_l, W^rand_l] per style layer
        for layer in self.hidden:
            h = F.leaky_relu(layer(h), 0.2)
        h = self.out(h)
        w_comb = h[..., : self.w_dim] + (w_enc if self.residual else 0)
        if self.gate_dim == 0:
            return {"ws": w_comb, "w_comb": w_comb, "gate": None}  # two-path without gate: W^out = W^comb
        g = h[..., self.w_dim :]
        s = torch.sigmoid(g)
        ws = s * w_comb + (1 - s) * w_rand  # [paper:diverse-mixing] W^out = σ(g)·W^comb + (1 − σ(g))·W^rand
        return {"ws": ws, "w_comb": w_comb, "gate": g}
