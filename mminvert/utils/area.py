"""Area resampling (`F.interpolate(mode="area")`, an adaptive average pool) written so that it exports to ONNX.

The ONNX exporter refuses an adaptive average pool whose sizes come from traced shapes (every size does, in a
graph with a dynamic batch). For whole-number factors the same numbers come from ops it exports: shrinking by
k is `F.avg_pool2d(x, k)` (the same windows, sums and divisor: bit-identical), growing by k repeats each pixel
k x k times (each window holds one input pixel: nearest up-sampling). Other sizes keep the adaptive pool.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["area_resize"]


def area_resize(x: Tensor, size: int | tuple[int, int]) -> Tensor:
    """x (B, C, H, W) -> (B, C, h, w): each output the mean of its input window, as `F.adaptive_avg_pool2d`."""
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    H, W = x.shape[-2:]
    # one int factor each: a traced tuple of sizes would not be a constant in the exported graph
    if H % h == 0 and W % w == 0 and H // h == W // w:
        return x if H == h else F.avg_pool2d(x, H // h)
    if h % H == 0 and w % W == 0 and h // H == w // W:
        return F.interpolate(x, scale_factor=float(h // H), mode="nearest")
    return F.adaptive_avg_pool2d(x, (h, w))
