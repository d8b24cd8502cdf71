"""A tiny model that honours the sampling contract of `DiverseInversion` (tests only).

W^enc from a linear read of the masked image's pooled pixels, mixed with W^rand = mapping(z) through a fixed
per-layer gate (the diverse method's W^out = σ(g)·W^enc + (1 − σ(g))·W^rand), rendered by a frozen 32 px
StyleGAN2. `forward` uses W^rand = w̄ (one deterministic fill); `sample` draws z from `seed`.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mminvert.inference.model_classes import register_model_class
from mminvert.stylegan2 import StyleGAN2Generator

__all__ = ["FakeSampler", "GENERATOR"]

GENERATOR = dict(resolution=32, z_dim=32, w_dim=32, mapping_layers=2, channels={4: 16, 8: 16, 16: 16, 32: 8})


class FakeSampler(nn.Module):
    supports_sampling = True

    def __init__(self, generator: dict[str, Any], gate: float = 0.0) -> None:
        super().__init__()
        self.generator = StyleGAN2Generator(**generator).freeze()
        self.gate_value = gate
        D, n = self.generator.w_dim, self.generator.num_ws
        self.read = nn.Linear(4 * 16, n * D)
        self.gate = nn.Parameter(torch.full((n, 1), float(gate)))

    def architecture(self) -> dict[str, Any]:
        return {"model_class": "FakeSampler", "generator": dict(self.generator.config), "gate": self.gate_value}

    @classmethod
    def from_architecture(cls, arch: dict[str, Any]) -> FakeSampler:
        return cls(arch["generator"], arch["gate"])

    def _render(self, batch: dict[str, Tensor], w_rand: Tensor) -> dict[str, Tensor]:
        image, mask = batch["image"], batch["mask"]
        x = F.adaptive_avg_pool2d(torch.cat([image * mask, mask], 1), 4).flatten(1)
        w_enc = self.read(x).view(-1, self.generator.num_ws, self.generator.w_dim)
        g = torch.sigmoid(self.gate)
        ws = g * w_enc + (1 - g) * w_rand  # W^out = σ(g)·W^enc + (1 − σ(g))·W^rand
        raw = self.generator.synthesis(ws)
        return {"image": raw, "composite": image * mask + raw * (1 - mask), "ws": ws}

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        B = batch["image"].shape[0]
        return self._render(batch, self.generator.w_avg.expand(B, self.generator.num_ws, -1))

    @torch.no_grad()
    def sample(self, batch: dict[str, Tensor], num_samples: int, seed: int) -> dict[str, Tensor]:
        B, K = batch["image"].shape[0], int(num_samples)
        gen = torch.Generator().manual_seed(int(seed))
        z = torch.randn(B * K, self.generator.z_dim, generator=gen).to(batch["image"].device)
        w_rand = self.generator.mapping(z).unsqueeze(1).expand(-1, self.generator.num_ws, -1)
        rep = {k: v.repeat_interleave(K, 0) for k, v in batch.items() if k in ("image", "mask")}
        out = self._render(rep, w_rand)
        return {k: v.view(B, K, *v.shape[1:]) for k, v in out.items()}


def tiny_fake_sampler(seed: int = 0, gate: float = 0.0) -> FakeSampler:
    torch.manual_seed(seed)
    model = FakeSampler(GENERATOR, gate)
    with torch.no_grad():
        model.generator.w_avg = model.generator.mean_latent(256)
    return model.eval()


register_model_class("FakeSampler", "tests.fake_sampler:FakeSampler")
