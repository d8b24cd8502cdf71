"""Equalised-learning-rate layers (Karras et al. 2018): weights stored at unit variance and scaled
at run time by 1/sqrt(fan_in), so Adam sees every layer at the same scale."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .ops import blur, fir_kernel, lrelu_agc

__all__ = ["EqualLinear", "EqualConv2d"]


class EqualLinear(nn.Module):
    """y = act(x W^T · lr_mul/sqrt(in) + b · lr_mul). x: (B, in) -> (B, out)."""

    def __init__(
        self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0, activation: bool = False
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        if self.activation:
            return lrelu_agc(F.linear(x, self.weight * self.weight_gain), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)

    def extra_repr(self) -> str:
        return f"in={self.weight.shape[1]}, out={self.weight.shape[0]}, lr_mul={self.lr_mul}, act={self.activation}"


class EqualConv2d(nn.Module):
    """Convolution with equalised lr, optional 2x down-sampling (FIR blur then stride 2), optional
    bias + leaky ReLU (gain sqrt 2). Used by the discriminator. (B, Cin, H, W) -> (B, Cout, H', W')."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, down: bool = False,
        bias: bool = True, activation: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.down = down
        self.activation = activation
        self.register_buffer("kernel", fir_kernel(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight * self.weight_gain
        k = self.weight.shape[-1]
        if self.down:
            p = self.kernel.shape[0] - 2 + k - 1
            x = blur(x, self.kernel, pad=((p + 1) // 2, p // 2))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=k // 2)
        if self.activation:
            return lrelu_agc(x, self.bias)
        if self.bias is not None:
            x = x + self.bias.view(1, -1, 1, 1)
        return x

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, k={k}, down={self.down}, bias={self.bias is not None}, act={self.activation}"
