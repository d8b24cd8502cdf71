"""StyleGAN2 residual discriminator with minibatch standard deviation."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .generator import default_channels
from .layers import EqualConv2d, EqualLinear

__all__ = ["StyleGAN2Discriminator", "DiscriminatorBlock", "minibatch_stddev"]


def minibatch_stddev(x: Tensor, group_size: int = 4, num_features: int = 1) -> Tensor:
    """Append the per-group feature standard deviation as extra channels.

    x: (B, C, H, W) -> (B, C + num_features, H, W); sample b is grouped with b ± k·(B/G).
    """
    b, c, h, w = x.shape
    g = min(group_size, b)
    if b % g:
        raise ValueError(f"batch {b} is not divisible by the minibatch-std group size {g}")
    y = x.reshape(g, -1, num_features, c // num_features, h, w)
    y = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8)  # (B/G, F, C/F, H, W)
    y = y.mean(dim=[2, 3, 4])  # (B/G, F)
    y = y.reshape(-1, num_features, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual block: two 3x3 convs (the second down-samples) plus a 1x1 down-sampling skip,
    summed and scaled by 1/sqrt 2. (B, Cin, r, r) -> (B, Cout, r/2, r/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, down=True, bias=False, activation=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv1(self.conv0(x)) + self.skip(x)) * (1 / math.sqrt(2))


class StyleGAN2Discriminator(nn.Module):
    """image (B, img_channels, R, R) -> logits (B, 1)."""

    def __init__(
        self,
        resolution: int = 256,
        channel_base: int = 32768,
        channel_max: int = 512,
        channels: Mapping[int, int] | None = None,
        img_channels: int = 3,
        mbstd_group_size: int = 4,
        mbstd_num_features: int = 1,
    ) -> None:
        super().__init__()
        log2 = int(math.log2(resolution))
        if resolution < 8 or 2**log2 != resolution:
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        chans = {int(k): int(v) for k, v in channels.items()} if channels else default_channels(
            resolution, channel_base, channel_max)
        self.config: dict[str, Any] = dict(resolution=resolution, channels=chans, img_channels=img_channels,
                                           mbstd_group_size=mbstd_group_size, mbstd_num_features=mbstd_num_features)
        self.fromrgb = EqualConv2d(img_channels, chans[resolution], 1)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(chans[2**i], chans[2 ** (i - 1)]) for i in range(log2, 2, -1))
        c4 = chans[4]
        self.final_conv = EqualConv2d(c4 + mbstd_num_features, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)
        self.resolution, self.img_channels = resolution, img_channels
        self.mbstd_group_size, self.mbstd_num_features = mbstd_group_size, mbstd_num_features

    def forward(self, img: Tensor) -> Tensor:
        expected = (self.img_channels, self.resolution, self.resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise ValueError(f"discriminator input must be (B, {expected[0]}, {expected[1]}, {expected[2]}), "
                             f"got {tuple(img.shape)}")
        x = self.fromrgb(img)
        for block in self.blocks:
            x = block(x)
        x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_features)
        x = self.final_conv(x)
        return self.out(self.fc(x.flatten(1)))
