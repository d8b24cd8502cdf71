"""Pre-modulation of the style codes by structure vectors (InvertFill / MMInvertFill).

For style i in group l (coarse, middle, fine):  w'_i = γ_l(s_l) ⊙ IN(w_i) + β_l(s_l),
IN normalising w_i over its w_dim entries; γ_l, β_l are two-layer MLPs of the structure vector s_l.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["PreModulation", "instance_norm_codes"]


def instance_norm_codes(w: Tensor, eps: float = 1e-5) -> Tensor:
    """(B, n, D) -> each code normalised to zero mean, unit variance over its D entries."""
    mean = w.mean(dim=-1, keepdim=True)
    var = w.var(dim=-1, keepdim=True, unbiased=False)
    return (w - mean) * torch.rsqrt(var + eps)  # [paper:premod-IN] IN(w_i)


def _mlp(in_dim: int, hidden: int, out_dim: int, bias_init: float) -> nn.Sequential:
    mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_dim))
    nn.init.normal_(mlp[2].weight, std=0.01)
    nn.init.constant_(mlp[2].bias, bias_init)
    return mlp


class PreModulation(nn.Module):
    """w (B, num_ws, D) and structure vectors [s_c, s_m, s_f] (B, S) -> w' (B, num_ws, D)."""

    def __init__(self, w_dim: int, struct_dim: int, groups: tuple[int, int, int], hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or w_dim
        self.groups = tuple(groups)
        self.gamma = nn.ModuleList(_mlp(struct_dim, hidden, w_dim, 1.0) for _ in groups)
        self.beta = nn.ModuleList(_mlp(struct_dim, hidden, w_dim, 0.0) for _ in groups)

    def forward(self, w: Tensor, structure: list[Tensor]) -> Tensor:
        out, start = [], 0
        for l, n in enumerate(self.groups):
            if n == 0:
                continue
            wl = instance_norm_codes(w[:, start : start + n])
            s = structure[l]
            # γ_l(s_l) ⊙ IN(w) + β_l(s_l)
            out.append(self.gamma[l](s).unsqueeze(1) * wl + self.beta[l](s).unsqueeze(1))  # [paper:premod]
            start += n
        return torch.cat(out, dim=1)
