"""StyleGAN2 generator: mapping network + synthesis network, with the API the inversion model uses."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .mapping import MappingNetwork
from .synthesis import SynthesisNetwork

__all__ = ["StyleGAN2Generator", "default_channels"]


def default_channels(resolution: int, channel_base: int = 32768, channel_max: int = 512) -> dict[int, int]:
    """Width per resolution, min(channel_base / r, channel_max); the defaults give config F."""
    out, r = {}, 4
    while r <= resolution:
        out[r] = min(channel_base // r, channel_max)
        r *= 2
    return out


class StyleGAN2Generator(nn.Module):
    """z (B, z_dim) -> image (B, img_channels, R, R) in about [-1, 1].

    Attributes: z_dim, w_dim, num_ws, resolution, channels (res -> width), buffer w_avg (w_dim,).
    `config` holds the constructor arguments, so a checkpoint can rebuild the network.
    """

    def __init__(
        self,
        resolution: int = 256,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_mul: float = 0.01,
        channel_base: int = 32768,
        channel_max: int = 512,
        channels: Mapping[int, int] | None = None,
        img_channels: int = 3,
    ) -> None:
        super().__init__()
        chans = {int(k): int(v) for k, v in channels.items()} if channels else default_channels(
            resolution, channel_base, channel_max)
        self.config: dict[str, Any] = dict(
            resolution=resolution, z_dim=z_dim, w_dim=w_dim, mapping_layers=mapping_layers,
            mapping_lr_mul=mapping_lr_mul, channels=chans, img_channels=img_channels)
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul)
        self.synthesis = SynthesisNetwork(resolution, w_dim, chans, img_channels)
        self.z_dim, self.w_dim, self.resolution, self.img_channels = z_dim, w_dim, resolution, img_channels
        self.num_ws = self.synthesis.num_ws

    @property
    def channels(self) -> dict[int, int]:
        return dict(self.synthesis.channels)

    @property
    def w_avg(self) -> Tensor:
        return self.mapping.w_avg

    @w_avg.setter
    def w_avg(self, value: Tensor) -> None:
        self.mapping.w_avg.copy_(value.reshape(self.w_dim))

    def forward(self, z: Tensor, truncation_psi: float = 1.0, noise_mode: str = "const") -> Tensor:
        w = self.mapping(z, truncation_psi)
        return self.synthesis(w.unsqueeze(1).expand(-1, self.num_ws, -1), noise_mode=noise_mode)

    @torch.no_grad()
    def mean_latent(self, n: int = 10000, seed: int | None = 0, chunk: int = 4096) -> Tensor:
        """Mean of mapping(z) over n standard-normal z: (w_dim,). Deterministic for a given seed."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        device = self.w_avg.device
        total = torch.zeros(self.w_dim, dtype=torch.float64, device=device)
        done = 0
        while done < n:
            m = min(chunk, n - done)
            z = torch.randn(m, self.z_dim, generator=gen).to(device)
            total += self.mapping(z).double().sum(0)
            done += m
        return (total / n).float()

    def freeze(self) -> StyleGAN2Generator:
        """Eval mode and no parameter gradients (gradients still flow *through* the network)."""
        self.requires_grad_(False)
        return self.eval()
