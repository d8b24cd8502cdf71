"""Non-local self-attention over all positions (SAGAN-style), used at the backbone's lowest scale."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SelfAttention2d"]


class SelfAttention2d(nn.Module):
    """y = x + γ · softmax(q kᵀ / √d) v, with q, k (C/8) and v (C) 1x1 projections; γ starts at 0.

    (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        d = max(channels // 8, 1)
        self.q, self.k = nn.Conv2d(channels, d, 1), nn.Conv2d(channels, d, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # (B, HW, d)
        k = self.k(x).flatten(2).transpose(1, 2)
        v = self.v(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        out = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)
        return x + self.gamma * out.transpose(1, 2).reshape(b, c, h, w)
