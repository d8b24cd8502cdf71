"""Gated convolution (Yu et al. 2019, "Free-form image inpainting with gated convolution")."""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["GatedConv2d", "conv_block"]


class GatedConv2d(nn.Module):
    """out = φ(conv_f(x)) ⊙ σ(conv_g(x)). (B, Cin, H, W) -> (B, Cout, H/stride, W/stride).

    `forward(x, return_gate=True)` also returns the gate σ(conv_g(x)) (B, Cout, H', W') in (0, 1).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, activation: nn.Module | None = None) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel_size, stride, pad, dilation)
        self.act = activation if activation is not None else nn.LeakyReLU(0.2)

    def forward(self, x: Tensor, return_gate: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        f, g = self.conv(x).chunk(2, dim=1)
        gate = torch.sigmoid(g)
        out = self.act(f) * gate  # [paper:gated-conv] out = φ(conv_f(x)) ⊙ σ(conv_g(x))
        return (out, gate) if return_gate else out


def conv_block(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    """conv -> GroupNorm(1, C) (resolution-agnostic layer norm) -> LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2),
                         nn.GroupNorm(1, out_channels), nn.LeakyReLU(0.2))
