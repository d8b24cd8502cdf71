"""Down-sampling backbone of the multi-modal guided encoder (MGE).

Five conv layers — a 7x7 gated conv at full resolution, three stride-2 convs down to H/8, one 3x3
conv — then self-attention at H/8 and a tail gated conv that yields the base features f₀ and gate g₀.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .gated_conv import GatedConv2d, conv_block
from .self_attention import SelfAttention2d

__all__ = ["DownBackbone"]


class DownBackbone(nn.Module):
    """x (B, Cin, H, W) -> f₀, g₀ (B, C₃, H/8, W/8) and skips [H: C₀, H/2: C₁, H/4: C₂].

    `channels` = (C₀, C₁, C₂, C₃): widths at H, H/2, H/4 and H/8 (the bottleneck width).
    """

    def __init__(self, in_channels: int, channels: Sequence[int] = (64, 128, 256, 256)) -> None:
        super().__init__()
        c0, c1, c2, c3 = channels
        self.stem = GatedConv2d(in_channels, c0, kernel_size=7)
        self.down1 = conv_block(c0, c1, 4, stride=2)
        self.down2 = conv_block(c1, c2, 4, stride=2)
        self.down3 = conv_block(c2, c3, 4, stride=2)
        self.conv = conv_block(c3, c3, 3)
        self.attention = SelfAttention2d(c3)
        self.tail = GatedConv2d(c3, c3, 3)
        self.channels = tuple(channels)
        self.stride = 8

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        if x.shape[-1] % self.stride or x.shape[-2] % self.stride:
            raise ValueError(f"input size {tuple(x.shape[-2:])} must be divisible by {self.stride}")
        s0 = self.stem(x)
        s1 = self.down1(s0)  # 4x4 stride-2 convs with padding 1 halve even sizes exactly
        s2 = self.down2(s1)
        f = self.conv(self.down3(s2))
        f0, g0 = self.tail(self.attention(f), return_gate=True)  # [paper:backbone] f₀, g₀
        return f0, g0, [s0, s1, s2]

