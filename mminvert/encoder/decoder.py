"""Multi-modal mutual decoder (MMD): RGB, edge and segmentation branches with U-Net skips.

Three up-sampling stages H/8 -> H/4 -> H/2 -> H. The GMA patch sizes given for H/4 double at each
stage (ours: the token count stays (H/8)²-ish instead of growing 16x at full resolution). After each
stage the auxiliary branches predict their maps, and the RGB branch passes a GMA block guided by auxiliary information `a`:
  guidance 'unbiased': a = [edge-branch feature, seg-branch feature]      (default)
  guidance 'biased'  : a = [σ(ê_s), softmax(ŝ_s)]  (the branches' own predictions)
  guidance 'gt'      : a = [e↓s, onehot(s)↓s]       (ground truth; an upper-bound ablation)
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .gated_conv import conv_block
from .gma import GMABlock
from .heads import MultiModalHead

__all__ = ["UpStage", "MultiModalDecoder", "GUIDANCES"]

GUIDANCES = ("unbiased", "biased", "gt")


class UpStage(nn.Module):
    """x (B, Cin, h, w), skip (B, Cs, 2h, 2w) -> (B, Cout, 2h, 2w): nearest 2x, conv, concat skip, conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = conv_block(in_channels, out_channels)
        self.merge = conv_block(out_channels + skip_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = self.up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.merge(torch.cat([x, skip], dim=1))


class MultiModalDecoder(nn.Module):
    """Bottleneck features (B, C₃, H/8, W/8) + backbone skips -> per-scale features and predictions.

    `channels` = backbone widths (C₀, C₁, C₂, C₃); the RGB branch mirrors them, the auxiliary branches
    use `aux_ratio` of the width. With `num_classes == 0` and `use_aux=False` only the RGB branch exists.
    """

    def __init__(self, channels: Sequence[int], num_classes: int = 0, use_aux: bool = True,
                 fusion: str = "adn", guidance: str = "unbiased", heads: int = 4,
                 patch_sizes: Sequence[int] = (2, 4), aux_ratio: float = 0.5) -> None:
        super().__init__()
        if guidance not in GUIDANCES:
            raise ValueError(f"guidance must be one of {GUIDANCES}, got {guidance!r}")
        c0, c1, c2, c3 = channels
        rgb_w = [c2, c1, c0]  # widths at H/4, H/2, H
        skip_w = [c2, c1, c0]
        self.use_aux, self.guidance, self.num_classes = use_aux, guidance, num_classes
        self.rgb_stages = nn.ModuleList(UpStage(i, s, o) for i, s, o in zip([c3] + rgb_w[:-1], skip_w, rgb_w))
        aux_w = [max(int(w * aux_ratio), 8) for w in rgb_w] if use_aux else [0, 0, 0]
        if use_aux:
            self.edge_stages = nn.ModuleList(UpStage(i, s, o) for i, s, o in zip([c3] + aux_w[:-1], skip_w, aux_w))
            self.seg_stages = nn.ModuleList(UpStage(i, s, o) for i, s, o in zip([c3] + aux_w[:-1], skip_w, aux_w))
        guide_w = [2 * a if guidance == "unbiased" else 1 + num_classes for a in aux_w] if use_aux else [0, 0, 0]
        # Patch sizes double with each stage so every stage attends over the same number of tokens.
        self.gma = nn.ModuleList(
            GMABlock(w, g, fusion if use_aux else "none", heads, [p * 2**i for p in patch_sizes])
            for i, (w, g) in enumerate(zip(rgb_w, guide_w)))
        self.heads = nn.ModuleList(MultiModalHead(w, a, num_classes if use_aux else 0) for w, a in zip(rgb_w, aux_w))
        self.rgb_channels, self.aux_channels = rgb_w, aux_w

    def forward(self, f: Tensor, skips: list[Tensor], mask: Tensor, gt_edge: Tensor | None = None,
                gt_seg_onehot: Tensor | None = None) -> dict[str, list[Tensor]]:
        """-> dict of lists over the 3 scales: `features` (RGB branch), `rgb`, `edge`, `seg`, `structure`."""
        out: dict[str, list] = {k: [] for k in ("features", "rgb", "edge", "seg", "structure")}
        x = fe = fs = f
        for i, skip in enumerate(reversed(skips)):
            x = self.rgb_stages[i](x, skip)
            a = None
            if self.use_aux:
                fe, fs = self.edge_stages[i](fe, skip), self.seg_stages[i](fs, skip)
                edge_logits, seg_logits = self.heads[i].edge(fe), self.heads[i].seg(fs) if self.heads[i].seg else None
                a = self._guidance(fe, fs, edge_logits, seg_logits, gt_edge, gt_seg_onehot, x.shape[-2:])
            else:
                edge_logits = seg_logits = None
            x = self.gma[i](x, a, mask)  # [paper:MMD] GMA after each RGB up-sampling stage
            rgb = torch.tanh(self.heads[i].rgb(x))
            out["features"].append(x)
            out["rgb"].append(rgb)
            out["edge"].append(edge_logits)
            out["seg"].append(seg_logits)
            out["structure"].append(MultiModalHead.structure(rgb, edge_logits, seg_logits))
        return out

    def _guidance(self, fe: Tensor, fs: Tensor, edge_logits: Tensor, seg_logits: Tensor | None,
                  gt_edge: Tensor | None, gt_seg: Tensor | None, size: torch.Size) -> Tensor:
        if self.guidance == "unbiased":
            return torch.cat([fe, fs], dim=1)  # [paper:MMD-guidance] unbiased: a = [edge, seg features]
        if self.guidance == "biased":
            parts = [torch.sigmoid(edge_logits)] + ([torch.softmax(seg_logits, 1)] if seg_logits is not None else [])
            return torch.cat(parts, dim=1)
        if gt_edge is None or (self.num_classes and gt_seg is None):
            raise ValueError("guidance='gt' needs the ground-truth edge and segmentation maps in the batch")
        parts = [F.interpolate(gt_edge, size=size, mode="area")]
        if self.num_classes:
            parts.append(F.interpolate(gt_seg, size=size, mode="area"))
        return torch.cat(parts, dim=1)
