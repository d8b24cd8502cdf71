"""Gated Mask-aware Attention (GMA) block of the multi-modal mutual decoder.

    n = Fuse₁(x, a)                         (ADN or an ablation alternative)
    h = x + Attn(n; gate from x, M)         (mask-gated multi-head patch attention)
    o = Fuse₂(h, a)
    y = h + W_o(GELU(W₁ o) ⊙ σ(W_g o))      (gated feed-forward)

`attention=False` (the paper's "−GMA" ablation, and MMT's blocks) drops the attention step and its
fusion: y = x + FFN(Fuse(x, a)); the auxiliary guidance is still fused.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .fusion import build_fusion
from .patch_attention import MaskGatedPatchAttention

__all__ = ["GatedFeedForward", "GMABlock"]


class GatedFeedForward(nn.Module):
    """W_o(GELU(W₁ o) ⊙ σ(W_g o)) with 1x1 convs and hidden width `expansion`·C. (B,C,H,W) -> same."""

    def __init__(self, channels: int, expansion: int = 2) -> None:
        super().__init__()
        hidden = expansion * channels
        self.w1 = nn.Conv2d(channels, hidden, 1)
        self.wg = nn.Conv2d(channels, hidden, 1)
        self.wo = nn.Conv2d(hidden, channels, 1)

    def forward(self, o: Tensor) -> Tensor:
        return self.wo(F.gelu(self.w1(o)) * torch.sigmoid(self.wg(o)))  # [paper:gated-FFN]


class GMABlock(nn.Module):
    """x (B, C, H, W), aux a (B, Ca, H, W) or None, mask M (B, 1, H₀, W₀) -> (B, C, H, W).

    `attention=False`: no `attention` / `fuse_attn` modules (both None). `gate`: the attention's key gate,
    'learned' or 'known_fraction' (see patch_attention.py).
    """

    def __init__(self, channels: int, aux_channels: int, fusion: str = "adn", heads: int = 4,
                 patch_sizes: Sequence[int] = (2, 4), ffn_expansion: int = 2, attention: bool = True,
                 gate: str = "learned") -> None:
        super().__init__()
        self.fuse_attn = build_fusion(fusion, channels, aux_channels) if attention else None
        self.attention = MaskGatedPatchAttention(channels, heads, patch_sizes, gate) if attention else None
        self.fuse_ffn = build_fusion(fusion, channels, aux_channels)
        self.ffn = GatedFeedForward(channels, ffn_expansion)

    def forward(self, x: Tensor, a: Tensor | None, mask: Tensor) -> Tensor:
        h = x
        if self.attention is not None:
            h = x + self.attention(self.fuse_attn(x, a), x, mask)  # [paper:GMA] h = x + Attn(Fuse₁(x, a))
        return h + self.ffn(self.fuse_ffn(h, a))
