"""Resampling ops of StyleGAN2 in pure PyTorch: FIR blur and 2x up/down-sampling.

All ops take NCHW (or channels-last) float tensors and a 2-D FIR kernel built by `fir_kernel`.
They are exact equivalents of the `upfirdn2d` calls of the original implementations, written as
single depthwise (transposed) convolutions so they run fast on CPU and GPU without extensions.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["BLUR_TAPS", "fir_kernel", "blur", "upsample2d", "downsample2d", "lrelu_agc"]

BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)  # the binomial filter of StyleGAN2


def fir_kernel(taps: Sequence[float] = BLUR_TAPS, gain: float = 1.0) -> Tensor:
    """Separable 2-D FIR kernel (k, k) from 1-D taps, normalised to sum `gain`."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    k2 = k[:, None] * k[None, :]
    return k2 / k2.sum() * gain


def _depthwise(kernel: Tensor, channels: int, like: Tensor) -> Tensor:
    # conv2d correlates; flip so the op is a true convolution like upfirdn2d.
    k = kernel.to(dtype=like.dtype, device=like.device).flip([0, 1])
    return k[None, None].expand(channels, 1, *k.shape)


def _planewise(x: Tensor, conv: Callable[[Tensor, Tensor], Tensor], kernel: Tensor) -> Tensor:
    """The depthwise op as one single-channel `conv(planes, weight)` over all B·C planes: (B, C, H, W) ->
    (B·C, 1, H, W) -> (B, C, H', W'). Used while exporting to ONNX, where the grouped weight's shape would come
    from a traced channel count (a kernel of unknown shape, which the exporter refuses); the (1, 1, k, k) weight
    here is a constant. Same sums, in a possibly different order (float rounding only)."""
    b, c, h, w = x.shape
    y = conv(x.reshape(b * c, 1, h, w), _depthwise(kernel, 1, x))
    return y.reshape(b, c, y.shape[-2], y.shape[-1])


def blur(x: Tensor, kernel: Tensor, pad: tuple[int, int]) -> Tensor:
    """Convolve every channel with `kernel`, zero-padding (pad0, pad1) on both axes.

    x: (B, C, H, W) -> (B, C, H + pad0 + pad1 - k + 1, W + ...).
    """
    c = x.shape[1]
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    if torch.onnx.is_in_onnx_export():
        return _planewise(x, lambda p, k: F.conv2d(p, k), kernel)
    return F.conv2d(x, _depthwise(kernel, c, x), groups=c)


def upsample2d(x: Tensor, kernel: Tensor) -> Tensor:
    """2x up-sampling: zero insertion then FIR filter (kernel gain 4), as StyleGAN2's skip path.

    x: (B, C, H, W) -> (B, C, 2H, 2W). Equivalent to upfirdn2d(up=2, pad=((k-2+1)//2 + 1, (k-2)//2)),
    done as one depthwise transposed convolution.
    """
    kh = kernel.shape[0]
    if kh % 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"upsample2d needs a square, even-sized kernel, got {tuple(kernel.shape)}")
    c = x.shape[1]
    pad0 = (kh - 2 + 1) // 2 + 1
    if torch.onnx.is_in_onnx_export():
        return _planewise(x, lambda p, k: F.conv_transpose2d(p, k.flip([2, 3]), stride=2, padding=kh - 1 - pad0), kernel)
    return F.conv_transpose2d(x, _depthwise(kernel, c, x).flip([2, 3]), stride=2, padding=kh - 1 - pad0, groups=c)


def downsample2d(x: Tensor, kernel: Tensor) -> Tensor:
    """2x down-sampling: FIR filter then keep every second pixel. (B,C,H,W) -> (B,C,H/2,W/2)."""
    kh = kernel.shape[0]
    p = kh - 2
    c = x.shape[1]
    x = F.pad(x, ((p + 1) // 2, p // 2, (p + 1) // 2, p // 2))
    if torch.onnx.is_in_onnx_export():
        return _planewise(x, lambda p, k: F.conv2d(p, k, stride=2), kernel)
    return F.conv2d(x, _depthwise(kernel, c, x), stride=2, groups=c)


def lrelu_agc(x: Tensor, bias: Tensor | None = None, gain: float = 2**0.5) -> Tensor:
    """Bias, leaky ReLU (slope 0.2), then gain sqrt(2): StyleGAN2's `fused_lrelu` / `bias_act`."""
    if bias is not None:
        x = x + bias.view((1, -1) + (1,) * (x.ndim - 2))
    return F.leaky_relu(x, 0.2) * gain
