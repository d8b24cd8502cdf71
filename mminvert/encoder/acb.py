"""Adaptive Contextual Bottleneck (ACB) of MMInvertFill, and the `res` / `aot` blocks of its ablation.

ACB block t, input f_t (B, C, H, W):
  gate        m_t = σ(conv3x3(f_t))                          (per channel, "probability of missing")
  paths       f_t^r = ReLU(conv3x3_dilation=r(f_t)),  r ∈ R
  weights     a_t^r = conv([avg_c f_t^r, max_c f_t^r, avg_c m_t, max_c m_t]),  α_t = softmax_r(a_t)
  output      f_{t+1} = act(norm(f_t ⊙ (1 − m_t) + m_t ⊙ Σ_r α_t^r ⊙ f_t^r))
The spatial-weight kernel size (7, as CBAM) and norm = GroupNorm(1, C), act = LeakyReLU(0.2) are our
choices; the paper does not fix them.

With `use_g0` (default) the first block takes the backbone tail's gated-conv gate g₀ as its m_0 instead
of computing one (the paper starts the ACB gating from g₀), so it has no gate conv of its own; later
blocks compute theirs. `res` and `aot` blocks have no gate input: they ignore g₀ and `use_g0`.
`width` sets the inner width of `res` / `aot` blocks (null = the bottleneck channels) so the
bottleneck ablation can compare blocks of equal parameter count (docs/model.md, "Ablation switches").
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ACBBlock", "ResBlock", "AOTBlock", "Bottleneck", "BOTTLENECK_TYPES"]


def _channel_stats(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, 2, H, W): channel mean and max (CBAM's spatial descriptor)."""
    return torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)


class ACBBlock(nn.Module):
    """One ACB block, (B, C, H, W) -> (B, C, H, W). `rates` are the dilation rates R.

    `own_gate=False`: no gate conv; `forward(f, gate)` must then be given m_t (B, C, H, W) in (0, 1).
    """

    def __init__(self, channels: int, rates: Sequence[int] = (1, 2, 3, 4), weight_kernel: int = 7,
                 own_gate: bool = True) -> None:
        super().__init__()
        self.gate = nn.Conv2d(channels, channels, 3, padding=1) if own_gate else None
        self.paths = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=r, dilation=r) for r in rates)
        self.weights = nn.ModuleList(nn.Conv2d(4, 1, weight_kernel, padding=weight_kernel // 2) for _ in rates)
        self.norm = nn.GroupNorm(1, channels)
        self.act = nn.LeakyReLU(0.2)
        self.rates = tuple(rates)

    def forward(self, f: Tensor, gate: Tensor | None = None) -> Tensor:
        if self.gate is None:
            if gate is None:
                raise ValueError("this ACB block has no gate conv (use_g0): pass the backbone's gate g₀")
            m = gate
        else:
            m = torch.sigmoid(self.gate(f))  # [paper:ACB-gate] m_t = σ(conv3x3(f_t))
        m_stats = _channel_stats(m)
        paths = [torch.relu(conv(f)) for conv in self.paths]
        logits = torch.cat([w(torch.cat([_channel_stats(p), m_stats], 1)) for w, p in zip(self.weights, paths)], 1)
        alpha = torch.softmax(logits, dim=1)  # [paper:ACB-weights] α_t = softmax_r(a_t), (B, |R|, H, W)
        context = sum(alpha[:, i : i + 1] * p for i, p in enumerate(paths))
        # f_{t+1} = act(norm(f_t ⊙ (1 − m_t) + m_t ⊙ Σ_r α_t^r ⊙ f_t^r))
        return self.act(self.norm(f * (1 - m) + m * context))  # [paper:ACB]


class ResBlock(nn.Module):
    """ResNet block: x + norm(conv(act(norm(conv(x))))), inner width `width` (None = C). (B, C, H, W) -> same."""

    def __init__(self, channels: int, width: int | None = None) -> None:
        super().__init__()
        w = width or channels
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.GroupNorm(1, w), nn.LeakyReLU(0.2),
            nn.Conv2d(w, channels, 3, padding=1), nn.GroupNorm(1, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class AOTBlock(nn.Module):
    """AOT block (Zeng et al. 2022): split-dilated paths of C/|R| channels concatenated, fused by a
    3x3 conv, blended with x by a gate m = σ(LN(conv(x))): x ⊙ (1 − m) + out ⊙ m. Zero padding instead of
    AOT's reflection padding, so small feature maps (4x4 at 32 px) work with dilation 8. `width` = the
    concatenated paths' width (None = C), split evenly over the paths."""

    def __init__(self, channels: int, rates: Sequence[int] = (1, 2, 4, 8), width: int | None = None) -> None:
        super().__init__()
        w = width or channels
        if w % len(rates):
            raise ValueError(f"AOT block: width {w} cannot be split into {len(rates)} paths")
        c = w // len(rates)
        self.paths = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, c, 3, padding=r, dilation=r), nn.ReLU()) for r in rates)
        self.fuse = nn.Conv2d(w, channels, 3, padding=1)
        self.gate = nn.Conv2d(channels, channels, 3, padding=1)
        self.gate_norm = nn.GroupNorm(1, channels, affine=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.fuse(torch.cat([p(x) for p in self.paths], dim=1))
        m = torch.sigmoid(self.gate_norm(self.gate(x)))
        return x * (1 - m) + out * m


BOTTLENECK_TYPES = ("acb", "res", "aot")


class Bottleneck(nn.Module):
    """`depth` blocks of one type ('acb' — default, 'res' or 'aot'). f₀ (B, C, H, W), optional g₀ -> same.

    `use_g0`: the first ACB block gates with g₀ (acb only). `width`: inner width of res / aot blocks
    (None = C; acb ignores it). `config` is the resolved plain-data description.
    """

    def __init__(self, channels: int, type: str = "acb", depth: int = 8, rates: Sequence[int] = (1, 2, 3, 4),
                 use_g0: bool = True, width: int | None = None) -> None:
        super().__init__()
        if type not in BOTTLENECK_TYPES:
            raise ValueError(f"bottleneck type must be one of {BOTTLENECK_TYPES}, got {type!r}")
        if width is not None and width < 1:
            raise ValueError(f"bottleneck width must be a positive number of channels or null, got {width}")
        if type == "acb":
            blocks = [ACBBlock(channels, rates, own_gate=not (use_g0 and i == 0)) for i in range(depth)]
        elif type == "res":
            blocks = [ResBlock(channels, width) for _ in range(depth)]
        else:
            blocks = [AOTBlock(channels, width=width) for _ in range(depth)]
        self.blocks = nn.Sequential(*blocks)
        self.type, self.depth = type, depth
        self.use_g0 = use_g0 and type == "acb" and depth > 0
        self.config = dict(type=type, depth=depth, rates=list(rates), use_g0=bool(use_g0), width=width)

    def forward(self, x: Tensor, g0: Tensor | None = None) -> Tensor:
        if self.use_g0 and g0 is None:
            raise ValueError("an ACB bottleneck with use_g0=true needs the backbone's gate g₀: bottleneck(f0, g0)")
        for i, block in enumerate(self.blocks):
            x = block(x, g0) if (i == 0 and self.use_g0) else block(x)
        return x
