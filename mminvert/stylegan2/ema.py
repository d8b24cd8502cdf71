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
    """θ_ema ← β·θ_ema + (1 − β)·θ for parameters; buffers (w_avg, constant noise) are copied. Two multi-tensor
    kernels for the whole network (on CUDA, instead of one launch per tensor)."""
    ema_params, params = list(ema.parameters()), list(source.parameters())
    ema_buffers, buffers = list(ema.buffers()), list(source.buffers())
    if len(ema_params) != len(params) or len(ema_buffers) != len(buffers):
        raise ValueError("ema and source networks differ in their parameters or buffers")
    if params:
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    if buffers:
        torch._foreach_copy_(ema_buffers, buffers)
