"""Mask-gated multi-head patch attention of the Gated Mask-aware Attention (GMA) block.

Heads are split into groups, one per patch size p (default {2, 4}); a token is a p×p patch of a
head's channels. Keys carry a gate g_j ∈ (0, 1):
    gate 'learned' (default, the paper):  g_j = σ(conv([x, M↓]))_j
    gate 'known_fraction' (ours, earlier): g_j = σ(conv([x, M↓]))_j · v_j,  v_j = known fraction of key patch j
    A_ij = softmax_j(q_i·k_j / √d + log g_j)
With the learned gate the network learns from (x, M↓) how much hole keys count; with
'known_fraction' fully-masked key tokens (v_j = 0) get ~zero weight from initialisation on (the
log-gate is clamped at log 1e-6, which also keeps an all-hole input finite: uniform attention).
Models trained before the switch existed used 'known_fraction'.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils.area import area_resize

__all__ = ["MaskGatedPatchAttention", "GATES"]

GATES = ("learned", "known_fraction")

_LOG_EPS = math.log(1e-6)


def _to_tokens(x: Tensor, heads: int, p: int) -> Tensor:
    """(B, C, H, W) -> (B, heads, N = HW/p², d = C/heads · p²)."""
    b, c, h, w = x.shape
    x = x.reshape(b, heads, c // heads, h // p, p, w // p, p)
    return x.permute(0, 1, 3, 5, 2, 4, 6).reshape(b, heads, (h // p) * (w // p), (c // heads) * p * p)


def _from_tokens(t: Tensor, c: int, h: int, w: int, p: int) -> Tensor:
    b, heads = t.shape[:2]
    t = t.reshape(b, heads, h // p, w // p, c // heads, p, p)
    return t.permute(0, 1, 4, 2, 5, 3, 6).reshape(b, c, h, w)


class MaskGatedPatchAttention(nn.Module):
    """q, k, v from n (the ADN-normalised input), gate from (x, M). (B, C, H, W) -> (B, C, H, W).

    H and W must be divisible by every patch size. `heads` is the total number of heads, split evenly
    across patch sizes. `gate` is 'learned' or 'known_fraction' (module docstring).
    """

    def __init__(self, channels: int, heads: int = 4, patch_sizes: Sequence[int] = (2, 4),
                 gate: str = "learned") -> None:
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"attention gate must be one of {GATES}, got {gate!r}")
        groups = len(patch_sizes)
        if heads % groups or channels % heads:
            raise ValueError(f"{heads} heads must split evenly over patch sizes {tuple(patch_sizes)} "
                             f"and divide {channels} channels")
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        self.gate = nn.Conv2d(channels + 1, 1, 3, padding=1)
        self.gate_mode = gate
        self.patch_sizes = tuple(patch_sizes)
        self.heads_per_group = heads // groups
        self.group_channels = channels // groups
        self.last_attention: list[Tensor] | None = None  # set when `keep_attention` is True (tests, plots)
        self.keep_attention = False

    def forward(self, n: Tensor, x: Tensor, mask: Tensor) -> Tensor:
        b, c, h, w = n.shape
        for p in self.patch_sizes:
            if h % p or w % p:
                raise ValueError(f"feature size {(h, w)} is not divisible by patch size {p}")
        m = area_resize(mask, (h, w))  # M↓: known fraction per position
        gate = torch.sigmoid(self.gate(torch.cat([x, m], dim=1)))  # (B, 1, H, W)
        q, k, v = self.qkv(n).chunk(3, dim=1)
        outs, kept = [], []
        for gi, p in enumerate(self.patch_sizes):
            sl = slice(gi * self.group_channels, (gi + 1) * self.group_channels)
            hq, hk, hv = (_to_tokens(t[:, sl], self.heads_per_group, p) for t in (q, k, v))
            g = F.avg_pool2d(gate, p).flatten(1)  # g_j (B, N)
            if self.gate_mode == "known_fraction":
                g = g * F.avg_pool2d(m, p).flatten(1)  # × v_j
            bias = torch.log(g.clamp_min(1e-6))[:, None, None, :]  # [paper:GMA-gating] log g_j, over heads and queries
            if self.keep_attention:
                logits = hq @ hk.transpose(-1, -2) / math.sqrt(hq.shape[-1]) + bias
                attn = torch.softmax(logits, dim=-1)
                kept.append(attn)
                o = attn @ hv
            else:
                o = F.scaled_dot_product_attention(hq, hk, hv, attn_mask=bias.to(hq.dtype))
            outs.append(_from_tokens(o, self.group_channels, h, w, p))
        self.last_attention = kept if self.keep_attention else None
        return self.proj(torch.cat(outs, dim=1))
