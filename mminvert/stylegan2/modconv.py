"""Modulated convolution with weight demodulation (StyleGAN2, Karras et al. 2020, eq. 1-3).

Fast formulation: instead of building a weight per sample and running a grouped convolution, the
style scales the *input* channels, one convolution with the shared weight runs over the whole batch,
and demodulation scales the *output* channels:

    y = demod ⊙ conv(x ⊙ s, W),   demod_bo = 1 / sqrt(Σ_i s_bi² Σ_k W_oik² + ε)

which is exact (the demodulation factor only depends on (b, o)). A shared-weight convolution is a
single large GEMM, and the generator's frozen weights never need a per-sample copy. The grouped
formulation (`fused=True`) is kept for large-batch GPU use and tests.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.precision import autocast_off
from .ops import blur

__all__ = ["modulated_conv2d", "demodulation"]


def demodulation(weight: Tensor, styles: Tensor, eps: float = 1e-8) -> Tensor:
    """demod (B, Cout) = rsqrt(s² · ΣW² + ε) for weight (Cout, Cin, k, k) and styles (B, Cin); in fp32 (at
    least) under autocast: a bf16 sum of Cin·k² squares loses the scale the demodulation exists to fix."""
    with autocast_off(styles.device):
        dtype = torch.promote_types(styles.dtype, torch.float32)
        return torch.rsqrt(styles.to(dtype).square() @ weight.to(dtype).square().sum([2, 3]).t() + eps)


def modulated_conv2d(
    x: Tensor,
    weight: Tensor,
    styles: Tensor,
    demodulate: bool = True,
    up: bool = False,
    kernel: Tensor | None = None,
    fused: bool = False,
) -> Tensor:
    """Modulated convolution.

    x: (B, Cin, H, W); weight: (Cout, Cin, k, k), already multiplied by 1/sqrt(Cin k k);
    styles: (B, Cin). Returns (B, Cout, H, W), or (B, Cout, 2H, 2W) when `up` (transposed
    stride-2 convolution followed by the FIR `kernel` with gain 4, as StyleGAN2).
    """
    b, cin = x.shape[:2]
    assert weight.shape[1] == cin and styles.shape == (b, cin), (x.shape, weight.shape, styles.shape)
    if fused:
        return _fused(x, weight, styles, demodulate, up, kernel)
    x = x * styles.to(x.dtype)[:, :, None, None]
    k = weight.shape[-1]
    w = weight.to(x.dtype)
    if up:
        x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
        x = blur(x, kernel * 4, pad=(1, 1))
    else:
        x = F.conv2d(x, w, padding=k // 2)
    if demodulate:
        x = x * demodulation(weight, styles).to(x.dtype)[:, :, None, None]
    return x


def _fused(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool, up: bool, kernel: Tensor | None) -> Tensor:
    b, cin, h, w_ = x.shape
    cout, _, k, _ = weight.shape
    wt = weight[None] * styles[:, None, :, None, None]  # (B, Cout, Cin, k, k)
    if demodulate:
        wt = wt * demodulation(weight, styles)[:, :, None, None, None]
    x = x.reshape(1, b * cin, h, w_)
    if up:
        out = F.conv_transpose2d(x, wt.transpose(1, 2).reshape(b * cin, cout, k, k), stride=2, groups=b)
        out = blur(out.reshape(b, cout, *out.shape[-2:]), kernel * 4, pad=(1, 1))
        return out
    out = F.conv2d(x, wt.reshape(b * cout, cin, k, k), padding=k // 2, groups=b)
    return out.reshape(b, cout, h, w_)
