"""Fusion of auxiliary guidance into RGB features: Auxiliary DeNormalization (ADN) and the
alternatives of the paper's fusion ablation (`add`, `conv`, `adain`, `spade`), plus `none`.

Every fusion maps x (B, C, H, W) and auxiliary features a (B, Ca, H, W) to (B, C, H, W).
LN is GroupNorm(1, C) without affine parameters: layer norm over (C, H, W), resolution-agnostic.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ADN", "AddFusion", "ConvFusion", "AdaINFusion", "SPADEFusion", "NoFusion", "build_fusion", "FUSIONS"]


class ADN(nn.Module):
    """Auxiliary DeNormalization: ADN(x, a) = LN(x) ⊙ γ(e) + β([x, e]), e = conv1x1(a).

    e has no bias, so zero auxiliary features give e = 0 and γ(e) = γ's bias. At initialisation γ ≡ 1
    and β ignores x (its x-weights start at zero), so ADN starts as LN(x) + β(e).
    """

    def __init__(self, channels: int, aux_channels: int, embed_channels: int | None = None) -> None:
        super().__init__()
        ce = embed_channels or channels
        self.norm = nn.GroupNorm(1, channels, affine=False)
        self.embed = nn.Conv2d(aux_channels, ce, 1, bias=False)
        self.gamma = nn.Conv2d(ce, channels, 1)
        self.beta = nn.Conv2d(channels + ce, channels, 1)
        nn.init.zeros_(self.gamma.weight)
        nn.init.ones_(self.gamma.bias)
        with torch.no_grad():
            self.beta.weight[:, :channels].zero_()

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        e = self.embed(a)
        return self.norm(x) * self.gamma(e) + self.beta(torch.cat([x, e], dim=1))  # [paper:ADN]


class AddFusion(nn.Module):
    """LN(x) + conv1x1(a)."""

    def __init__(self, channels: int, aux_channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)
        self.proj = nn.Conv2d(aux_channels, channels, 1)

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        return self.norm(x) + self.proj(a)


class ConvFusion(nn.Module):
    """conv3x3([LN(x), a])."""

    def __init__(self, channels: int, aux_channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)
        self.conv = nn.Conv2d(channels + aux_channels, channels, 3, padding=1)

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        return self.conv(torch.cat([self.norm(x), a], dim=1))


class AdaINFusion(nn.Module):
    """IN(x) ⊙ (1 + γ(ā)) + β(ā), with ā the spatial mean of a (global statistics only)."""

    def __init__(self, channels: int, aux_channels: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.affine = nn.Linear(aux_channels, 2 * channels)

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        gamma, beta = self.affine(a.mean(dim=(2, 3))).chunk(2, dim=1)
        return self.norm(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class SPADEFusion(nn.Module):
    """SPADE (Park et al. 2019): LN(x) ⊙ (1 + γ(h)) + β(h), h = ReLU(conv3x3(a))."""

    def __init__(self, channels: int, aux_channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or channels
        self.norm = nn.GroupNorm(1, channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(aux_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        h = self.shared(a)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


class NoFusion(nn.Module):
    """LN(x) with learned affine; the auxiliary input is ignored (single-modality models)."""

    def __init__(self, channels: int, aux_channels: int = 0) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)

    def forward(self, x: Tensor, a: Tensor | None = None) -> Tensor:
        return self.norm(x)


FUSIONS: dict[str, type[nn.Module]] = {
    "adn": ADN, "add": AddFusion, "conv": ConvFusion, "adain": AdaINFusion, "spade": SPADEFusion, "none": NoFusion}


def build_fusion(kind: str, channels: int, aux_channels: int) -> nn.Module:
    if kind not in FUSIONS:
        raise ValueError(f"fusion must be one of {sorted(FUSIONS)}, got {kind!r}")
    if kind != "none" and aux_channels <= 0:
        raise ValueError(f"fusion {kind!r} needs auxiliary channels (got {aux_channels}); use fusion='none'")
    return FUSIONS[kind](channels, aux_channels)
