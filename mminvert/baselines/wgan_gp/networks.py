"""DCGAN-style networks of the WGAN-GP (Gulrajani et al. 2017, the "DCGAN" architecture of their §5 with
the critic's batch norm removed, as the gradient penalty requires), used by Vitoria et al. for semantic
inpainting.

`DCGANGenerator`: z (B, z_dim) ~ N(0, I) -> image (B, 3, R, R) in [-1, 1]: a linear layer to 4×4×C₀,
then ⌈log2(R/4)⌉ × [4×4 transposed conv stride 2, BatchNorm, ReLU] halving the width, a 3×3 conv and tanh.
`DCGANCritic`: image (B, 3, R, R) -> score (B,): [4×4 conv stride 2, LeakyReLU 0.2] down to 4×4, a linear
layer; no normalisation layers (the penalty is per sample).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["DCGANGenerator", "DCGANCritic"]


def _levels(resolution: int) -> int:
    n = int(round(math.log2(resolution / 4)))
    if resolution < 8 or 4 * 2**n != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return n


class DCGANGenerator(nn.Module):
    def __init__(self, resolution: int = 64, z_dim: int = 128, width: int = 64) -> None:
        super().__init__()
        n = _levels(resolution)
        self.config: dict[str, Any] = dict(resolution=resolution, z_dim=z_dim, width=width)
        self.resolution, self.z_dim, self.img_channels = resolution, z_dim, 3
        c0 = width * 2 ** (n - 1)
        self.fc = nn.Sequential(nn.Linear(z_dim, 4 * 4 * c0), nn.BatchNorm1d(4 * 4 * c0), nn.ReLU())
        blocks: list[nn.Module] = []
        c = c0
        for i in range(n):
            cout = max(c // 2, width // 2) if i < n - 1 else width // 2
            blocks += [nn.ConvTranspose2d(c, cout, 4, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            c = cout
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = nn.Conv2d(c, 3, 3, padding=1)
        self._c0 = c0

    def forward(self, z: Tensor, noise_mode: str = "const") -> Tensor:
        """`noise_mode` is accepted for call compatibility with StyleGAN2Generator; this network has no noise."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (B, {self.z_dim}), got {tuple(z.shape)}")
        h = self.fc(z).view(-1, self._c0, 4, 4)
        return torch.tanh(self.to_rgb(self.blocks(h)))

    def freeze(self) -> DCGANGenerator:
        """Eval mode (batch norm uses its running statistics) and no parameter gradients."""
        self.requires_grad_(False)
        return self.eval()


class DCGANCritic(nn.Module):
    def __init__(self, resolution: int = 64, width: int = 64) -> None:
        super().__init__()
        n = _levels(resolution)
        self.config: dict[str, Any] = dict(resolution=resolution, width=width)
        self.resolution = resolution
        layers: list[nn.Module] = []
        c = 3
        for i in range(n):
            cout = width * 2**i
            layers += [nn.Conv2d(c, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c = cout
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c * 4 * 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1:] != (3, self.resolution, self.resolution):
            raise ValueError(f"critic reads (B, 3, {self.resolution}, {self.resolution}), got {tuple(x.shape)}")
        return self.fc(self.features(x).flatten(1)).squeeze(1)
