"""StyleGAN2 synthesis network (skip architecture) with feature injection.

Block at resolution r: [2x up-sampling modulated conv] -> modulated conv -> (injected feature)
-> to-RGB, whose output is added to the 2x up-sampled image of the previous block. The injection is an
additive tensor (F&W+) or an (add, mult) pair, G_f ← G_f + G_f ⊙ mult + add (see injection.py).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .injection import Injection, inject, injection_shapes
from .layers import EqualLinear
from .modconv import demodulation, modulated_conv2d
from .ops import fir_kernel, upsample2d

__all__ = ["StyledConv", "ToRGB", "SynthesisBlock", "SynthesisNetwork", "NOISE_MODES"]

NOISE_MODES = ("const", "random", "none")
LRELU_GAIN = math.sqrt(2.0)


class StyledConv(nn.Module):
    """Modulated 3x3 conv (optionally 2x up-sampling) + noise + bias + leaky ReLU.

    x: (B, Cin, r', r') with r' = r/2 if `up` else r; w: (B, w_dim) -> (B, Cout, r, r).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 kernel_size: int = 3) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("kernel", fir_kernel(), persistent=False)
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.up, self.resolution = up, resolution
        self.fused = False  # grouped formulation; see modconv.py

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "const") -> Tensor:
        styles = self.affine(w)
        weight = self.weight * self.weight_gain
        # Demodulation, noise, bias and the sqrt(2) gain are applied in one pass (lrelu(a)·g = lrelu(a·g)).
        x = modulated_conv2d(x, weight, styles, demodulate=self.fused, up=self.up, kernel=self.kernel,
                             fused=self.fused)
        shift = self.bias.view(1, -1, 1, 1)
        if noise_mode == "const":
            shift = shift + self.noise_const * self.noise_strength
        elif noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
            shift = shift + noise * self.noise_strength
        if self.fused:
            return F.leaky_relu(torch.add(x, shift).mul_(LRELU_GAIN), 0.2, inplace=True)
        scale = demodulation(weight, styles) * LRELU_GAIN
        x = torch.addcmul(shift * LRELU_GAIN, x, scale.to(x.dtype)[:, :, None, None])
        return F.leaky_relu(x, 0.2, inplace=True)


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, plus bias; adds the up-sampled previous image.

    x: (B, C, r, r), w: (B, w_dim), skip: (B, img_channels, r/2, r/2) or None -> (B, img_channels, r, r).
    """

    def __init__(self, in_channels: int, w_dim: int, img_channels: int = 3) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.register_buffer("kernel", fir_kernel(gain=4.0), persistent=False)
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor, skip: Tensor | None = None) -> Tensor:
        y = modulated_conv2d(x, self.weight * self.weight_gain, self.affine(w), demodulate=False)
        y = y + self.bias.view(1, -1, 1, 1)
        if skip is not None:
            y = y + upsample2d(skip, self.kernel)
        return y


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network. The first block (r = 4) starts from a learned constant.

    Uses `num_conv + 1` style vectors: one per conv, the last for to-RGB (shared with the next block's
    first conv, as in StyleGAN2).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int = 3) -> None:
        super().__init__()
        self.resolution = resolution
        self.out_channels = out_channels
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
            self.conv0 = None
        else:
            self.conv0 = StyledConv(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = StyledConv(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, w_dim, img_channels)
        self.num_conv = 1 if self.conv0 is None else 2
        self.channels_last = True  # NHWC activations: faster convolutions on CPU (oneDNN) and GPU

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor, noise_mode: str = "const",
                feature: Injection | None = None) -> tuple[Tensor, Tensor]:
        if self.conv0 is None:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        if feature is not None:
            x = inject(x, feature)  # [paper:F&W+] skip injection: after the convs, before to-RGB
        img = self.torgb(x, ws[:, self.num_conv], img)
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> image (B, img_channels, R, R), roughly in [-1, 1].

    `channels` maps each resolution 4, 8, ..., R to its feature width. `features` maps resolutions to what is
    injected there: a tensor (B, C_r, r, r), added, or a `FeatureModulation(add, mult)`.
    """

    def __init__(self, resolution: int, w_dim: int, channels: Mapping[int, int], img_channels: int = 3) -> None:
        super().__init__()
        log2 = int(math.log2(resolution))
        if resolution < 4 or 2**log2 != resolution:
            raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
        self.resolutions = [2**i for i in range(2, log2 + 1)]
        missing = [r for r in self.resolutions if r not in channels]
        if missing:
            raise ValueError(f"channels has no width for resolutions {missing}")
        self.channels = {r: int(channels[r]) for r in self.resolutions}
        self.blocks = nn.ModuleList()
        in_ch = 0
        for r in self.resolutions:
            self.blocks.append(SynthesisBlock(in_ch, self.channels[r], w_dim, r, img_channels))
            in_ch = self.channels[r]
        self.resolution, self.w_dim, self.img_channels = resolution, w_dim, img_channels
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    def forward(self, ws: Tensor, noise_mode: str = "const", features: Mapping[int, Injection] | None = None) -> Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be (B, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        features = dict(features or {})
        self._check_features(features, ws.shape[0])
        x = img = None
        w_idx = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, w_idx : w_idx + block.num_conv + 1], noise_mode,
                           features.get(block.resolution))
            w_idx += block.num_conv
        return img.contiguous()

    def _check_features(self, features: dict[int, Injection], batch: int) -> None:
        for r, f in features.items():
            if r not in self.channels:
                raise ValueError(f"feature injected at resolution {r}, but the generator has {self.resolutions}")
            expected = (batch, self.channels[r], r, r)
            for name, shape in injection_shapes(f).items():
                if shape != expected:
                    raise ValueError(f"{name} at resolution {r} must be {expected}, got {shape}")
