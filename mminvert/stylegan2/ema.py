"""Exponential moving average of the generator weights (StyleGAN2's G_ema)."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ema_beta", "ema_update"]


def ema_beta(batch_size: int, ema_kimg: float, cur_nimg: int, rampup: float | None = None) -> float:
    """Per-step decay with a half-life of `ema_kimg` thousand images: β = 0.5^(batch / ema_nimg).

    With `rampup`, the half-life is capped at `rampup · cur_nimg` (short early on), as stylegan2-ada.
    """
    ema_nimg = ema_kimg * 1000
    if rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


@torch.no_grad()
def ema_update(ema: nn.Module, source: nn.Module, beta: float) -> None:
    """θ_ema ← β·θ_ema + (1 − β)·θ for parameters; buffers (w_avg, constant noise) are copied."""
    for p_ema, p in zip(ema.parameters(), source.parameters(), strict=True):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(ema.buffers(), source.buffers(), strict=True):
        b_ema.copy_(b)
