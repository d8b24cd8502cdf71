"""Stage-2 skip encoder S: (add, mult) features for the generator's three largest feature resolutions below the
output, G_f ← G_f + G_f ⊙ G_mult + G_add.

    input   cat(stage-1 composite, M, I ⊙ M)  (B, 7, R, R)
    stem    3x3 conv to 32 channels, BN, PReLU
    stages  three residual stages (48, 64, 96 wide), each halving the size: R/2, R/4, R/8 (128/64/32 at 256 px,
            32/16/8 at 64 px), BN + PReLU
    heads   per stage, 1x1 convs to the generator's width there: G_add = conv_a(f), G_mult = 2σ(conv_m(f)) − 1

The paper names a sigmoid for G_mult and asks for nothing about initialisation; we want stage 2 to start as the
identity (exactly the stage-1 output). With zero-initialised heads, conv_a = 0 and 2σ(0) − 1 = 0, so
G_f + G_f ⊙ 0 + 0 = G_f bit for bit. The shifted sigmoid keeps the sigmoid's shape and lets the multiplicative
path both damp (down to 0·G_f) and amplify (up to 2·G_f) the generator's features (docs/diverse.md).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from ..stylegan2 import FeatureModulation

__all__ = ["SkipEncoder", "ResidualStage"]


class ResidualStage(nn.Module):
    """(B, Cin, r, r) -> (B, Cout, r/2, r/2): BN -> conv3x3 -> BN -> PReLU -> conv3x3 (stride 2) -> BN, plus a
    1x1 stride-2 conv + BN shortcut (pSp's IR block layout)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, 2, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, 2, bias=False),
                                      nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)


class SkipEncoder(nn.Module):
    """cat(composite, M, I ⊙ M) (B, 7, R, R) -> {r: FeatureModulation(add, mult)} for r = R/2, R/4, R/8."""

    def __init__(self, resolution: int, generator_channels: Mapping[int, int], stem: int = 32,
                 widths: Sequence[int] = (48, 64, 96), in_channels: int = 7) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        self.resolutions = [resolution >> (i + 1) for i in range(len(widths))]
        missing = [r for r in self.resolutions if r not in generator_channels]
        if missing:
            raise ValueError(f"the generator has no feature maps at {missing} for the skip encoder")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
                                  nn.PReLU(stem))
        self.stages = nn.ModuleList(ResidualStage(a, b) for a, b in zip([stem, *widths[:-1]], widths))
        self.add_heads = nn.ModuleList(nn.Conv2d(w, generator_channels[r], 1) for w, r in zip(widths, self.resolutions))
        self.mult_heads = nn.ModuleList(nn.Conv2d(w, generator_channels[r], 1) for w, r in zip(widths, self.resolutions))
        for conv in [*self.add_heads, *self.mult_heads]:  # identity at initialisation: G_add = 0, G_mult = 0
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, composite: Tensor, mask: Tensor, masked_image: Tensor) -> dict[int, FeatureModulation]:
        x = self.stem(torch.cat([composite, mask, masked_image], dim=1))  # [paper:diverse-S-input] 7 channels
        out = {}
        for stage, add_head, mult_head, r in zip(self.stages, self.add_heads, self.mult_heads, self.resolutions):
            x = stage(x)
            mult = 2 * torch.sigmoid(mult_head(x)) - 1  # G_mult: a sigmoid shifted to be 0 at initialisation
            out[r] = FeatureModulation(add=add_head(x), mult=mult)  # [paper:diverse-S] G_f + G_f ⊙ G_mult + G_add
        return out
