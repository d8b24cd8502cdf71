"""Encoder E of the diverse-inpainting method: a pSp-style feature pyramid without normalisation layers.

    input   cat(I ⊙ M, M)  (B, 4, R, R), I in [-1, 1], M = 1 known / 0 hole
    body    3x3 stem conv at R, then residual stages (conv-PReLU-conv + 1x1 shortcut), each halving the size;
            the last three stages give c_fine (R/4), c_middle (R/8), c_coarse (R/16) with the default four stages
    FPN     p_coarse = lat(c_coarse); p_middle = up(p_coarse) + lat(c_middle); p_fine = up(p_middle) + lat(c_fine)
    styles  one map2style block per style code (pSp): coarse codes read p_coarse, middle p_middle, fine p_fine
    output  W^enc = E(x) + w̄  (B, num_ws, w_dim); w̄ is the generator's mean latent (pSp's start from w_avg)

The paper removes pSp's normalisation layers (masked inputs have statistics a batch or instance norm would
wash out) and gives no widths; ours are configurable and default to CPU-sized ones (docs/diverse.md).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..inversion.map2style import MapToVectors, style_groups

__all__ = ["DiverseEncoder", "ResidualDown"]


class ResidualDown(nn.Module):
    """(B, Cin, r, r) -> (B, Cout, r/2, r/2): conv3x3 (stride 2) -> PReLU -> conv3x3, plus a 1x1 stride-2 shortcut.
    No normalisation layers."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 2, 1), nn.PReLU(out_channels),
                                  nn.Conv2d(out_channels, out_channels, 3, 1, 1))
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, 2)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class DiverseEncoder(nn.Module):
    """E(I ⊙ M, M) -> style offsets (B, num_ws, w_dim) (the model adds w̄).

    `channels`: widths of the residual stages (at R/2, R/4, ...; at least three); `fpn_width`: pyramid width;
    `map_hidden`: width of the map2style convs (None = w_dim)."""

    def __init__(self, resolution: int, num_ws: int, w_dim: int, channels: Sequence[int] = (16, 32, 48, 64),
                 fpn_width: int = 64, map_hidden: int | None = None, in_channels: int = 4) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if len(channels) < 3:
            raise ValueError(f"the encoder needs at least three stages (coarse/middle/fine), got channels={channels}")
        if resolution >> len(channels) < 1:
            raise ValueError(f"{len(channels)} halving stages do not fit a {resolution} px input")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels[0], 3, 1, 1), nn.PReLU(channels[0]))
        self.stages = nn.ModuleList(ResidualDown(a, b) for a, b in zip([channels[0], *channels[:-1]], channels))
        self.lateral = nn.ModuleList(nn.Conv2d(c, fpn_width, 1) for c in channels[-3:])  # fine, middle, coarse
        coarse, middle, fine = style_groups(num_ws)
        sizes = [resolution >> (len(channels) - i) for i in (2, 1, 0)]  # fine, middle, coarse feature sizes
        groups = [(fine, sizes[0]), (middle, sizes[1]), (coarse, sizes[2])]
        blocks: list[MapToVectors] = []
        for n, size in reversed(groups):  # style order: coarse codes first
            blocks += [MapToVectors(fpn_width, w_dim, 1, map_hidden, pool_to=size) for _ in range(n)]
        self.map2style = nn.ModuleList(blocks)
        self.group_sizes = (coarse, middle, fine)
        self.resolution, self.num_ws, self.w_dim = resolution, num_ws, w_dim

    def forward(self, masked_image: Tensor, mask: Tensor) -> Tensor:
        x = self.stem(torch.cat([masked_image, mask], dim=1))  # [paper:diverse-E-input] cat(I ⊙ M, M)
        taps = []
        for stage in self.stages:
            x = stage(x)
            taps.append(x)
        c_fine, c_middle, c_coarse = taps[-3:]
        p_coarse = self.lateral[2](c_coarse)
        p_middle = F.interpolate(p_coarse, scale_factor=2.0, mode="nearest") + self.lateral[1](c_middle)
        p_fine = F.interpolate(p_middle, scale_factor=2.0, mode="nearest") + self.lateral[0](c_fine)
        coarse, middle, _ = self.group_sizes
        sources = [p_coarse] * coarse + [p_middle] * middle + [p_fine] * (self.num_ws - coarse - middle)
        return torch.cat([block(p) for block, p in zip(self.map2style, sources)], dim=1)  # (B, num_ws, w_dim)
