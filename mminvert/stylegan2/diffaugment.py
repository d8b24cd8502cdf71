"""Differentiable augmentation for data-efficient GAN training (DiffAugment, Zhao et al. 2020).

The same random transformations are applied to real and generated images *inside* the D and G
losses, and gradients flow through them to the generator. Images are (B, C, H, W) in [-1, 1];
every transformation is drawn independently per sample.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DiffAugment", "POLICIES"]

POLICIES = ("color", "translation", "cutout")


def _rand(x: Tensor, *shape: int) -> Tensor:
    return torch.rand(*shape, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    """Brightness ±0.5, saturation ×[0, 2], contrast ×[0.5, 1.5]."""
    b = x.shape[0]
    x = x + (_rand(x, b, 1, 1, 1) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, b, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x, b, 1, 1, 1) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift by up to ratio·size pixels (integer, per sample and axis), filling with zeros."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1), device=x.device)
    iy = torch.arange(h, device=x.device)[None] - ty + sh  # (B, H) rows of the padded image
    ix = torch.arange(w, device=x.device)[None] - tx + sw  # (B, W)
    padded = F.pad(x, [sw, sw, sh, sh])
    bi = torch.arange(b, device=x.device)[:, None, None]
    return padded[bi, :, iy[:, :, None], ix[:, None, :]].permute(0, 3, 1, 2)  # (B, H, W, C) -> NCHW


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of side ratio·size per sample, centred uniformly (clipped at the border)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    y0 = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device) - ch // 2
    x0 = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    hole = (ys >= y0) & (ys < y0 + ch) & (xs >= x0) & (xs < x0 + cw)  # (B, H, W)
    return x * (~hole).unsqueeze(1).to(x.dtype)


_OPS = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment(nn.Module):
    """Apply the listed policies in order ('color', 'translation', 'cutout'). (B,C,H,W) -> same shape."""

    def __init__(self, policy: Sequence[str] = POLICIES) -> None:
        super().__init__()
        unknown = [p for p in policy if p not in _OPS]
        if unknown:
            raise ValueError(f"unknown DiffAugment policies {unknown}; choose from {list(POLICIES)}")
        self.policy = list(policy)

    def forward(self, x: Tensor) -> Tensor:
        for name in self.policy:
            x = _OPS[name](x)
        return x

    def extra_repr(self) -> str:
        return f"policy={self.policy}"
