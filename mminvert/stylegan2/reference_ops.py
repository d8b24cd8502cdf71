"""Straightforward reference implementations, used to test the fast ops and as a benchmark baseline.

`upfirdn2d_ref` follows the textbook definition (zero insertion by reshaping, padding, a per-channel
FIR convolution, decimation); `modulated_conv2d_ref` is the grouped-convolution formulation with a
separate blur after the transposed convolution. Slow on purpose: clarity over speed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["upfirdn2d_ref", "modulated_conv2d_ref"]


def upfirdn2d_ref(x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)) -> Tensor:
    """Upsample by zero insertion, pad, FIR-filter (true convolution), downsample. (B,C,H,W)."""
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, 1, w, 1)
    x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
    x = x.reshape(b * c, 1, h * up, w * up)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    k = kernel.flip([0, 1])[None, None].to(x)
    x = F.conv2d(x, k)
    x = x[:, :, ::down, ::down]
    return x.reshape(b, c, x.shape[-2], x.shape[-1])


def modulated_conv2d_ref(
    x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, up: bool = False, kernel: Tensor | None = None
) -> Tensor:
    """Grouped modulated convolution (one group per sample), StyleGAN2 eq. 1-3.

    x: (B, Cin, H, W); weight: (Cout, Cin, k, k) already multiplied by 1/sqrt(Cin k k);
    styles: (B, Cin). Returns (B, Cout, H, W), or (B, Cout, 2H, 2W) with `up`.
    """
    b, cin, h, w_ = x.shape
    cout, _, k, _ = weight.shape
    wt = weight[None] * styles[:, None, :, None, None]  # (B, Cout, Cin, k, k)
    if demodulate:
        wt = wt * torch.rsqrt(wt.pow(2).sum([2, 3, 4]) + 1e-8)[:, :, None, None, None]
    x = x.reshape(1, b * cin, h, w_)
    if up:
        wt = wt.transpose(1, 2).reshape(b * cin, cout, k, k)
        out = F.conv_transpose2d(x, wt, stride=2, groups=b)
        out = out.reshape(b, cout, out.shape[-2], out.shape[-1])
        return upfirdn2d_ref(out, kernel * 4, pad=(1, 1))
    out = F.conv2d(x, wt.reshape(b * cout, cin, k, k), padding=k // 2, groups=b)
    return out.reshape(b, cout, h, w_)
