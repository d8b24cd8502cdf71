"""Multi-modal mutual decoder (MMD): RGB, edge and segmentation branches with U-Net skips.

Three up-sampling stages H/8 -> H/4 -> H/2 -> H. The GMA patch sizes given for H/4 double at each
stage (ours: the token count stays (H/8)²-ish instead of growing 16x at full resolution). After each
stage the auxiliary branches predict their maps, and the RGB branch passes a GMA block guided by auxiliary information `a`:
  guidance 'unbiased': a = [edge-branch feature, seg-branch feature]      (default)
  guidance 'biased'  : a = [σ(ê_s), softmax(ŝ_s)]  (the branches' own predictions)
  guidance 'gt'      : a = [e↓s, onehot(s)↓s]       (ground truth; an upper-bound ablation)
Only the branches of the configured modalities exist, and `a` holds only their parts.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils.area import area_resize
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

    `channels` = backbone widths (C₀, C₁, C₂, C₃); the RGB branch mirrors them, each auxiliary branch
    (one per entry of `modalities`, a subset of ('seg', 'edge')) uses `aux_ratio` of the width. With no
    modalities only the RGB branch exists and the GMA blocks fuse nothing (fusion 'none').
    `num_classes` is used only with 'seg'. `attention` and `gate` configure the GMA blocks (gma.py).
    """

    def __init__(self, channels: Sequence[int], num_classes: int = 0, modalities: Sequence[str] = ("seg", "edge"),
                 fusion: str = "adn", guidance: str = "unbiased", heads: int = 4,
                 patch_sizes: Sequence[int] = (2, 4), aux_ratio: float = 0.5, attention: bool = True,
                 gate: str = "learned") -> None:
        super().__init__()
        if guidance not in GUIDANCES:
            raise ValueError(f"guidance must be one of {GUIDANCES}, got {guidance!r}")
        c0, c1, c2, c3 = channels
        rgb_w = [c2, c1, c0]  # widths at H/4, H/2, H
        skip_w = [c2, c1, c0]
        self.has_edge, self.has_seg = "edge" in modalities, "seg" in modalities
        self.guidance = guidance
        self.num_classes = num_classes if self.has_seg else 0  # segmentation classes predicted
        n_aux = int(self.has_edge) + int(self.has_seg)
        self.rgb_stages = nn.ModuleList(UpStage(i, s, o) for i, s, o in zip([c3] + rgb_w[:-1], skip_w, rgb_w))
        aux_w = [max(int(w * aux_ratio), 8) for w in rgb_w] if n_aux else [0, 0, 0]
        if self.has_edge:
            self.edge_stages = nn.ModuleList(UpStage(i, s, o) for i, s, o in zip([c3] + aux_w[:-1], skip_w, aux_w))
        if self.has_seg:
            self.seg_stages = nn.ModuleList(UpStage(i, s, o) for i, s, o in zip([c3] + aux_w[:-1], skip_w, aux_w))
        maps_w = int(self.has_edge) + self.num_classes  # edge map + class maps (biased / gt guidance)
        guide_w = [n_aux * a if guidance == "unbiased" else maps_w for a in aux_w] if n_aux else [0, 0, 0]
        # Patch sizes double with each stage so every stage attends over the same number of tokens.
        self.gma = nn.ModuleList(
            GMABlock(w, g, fusion if n_aux else "none", heads, [p * 2**i for p in patch_sizes],
                     attention=attention, gate=gate)
            for i, (w, g) in enumerate(zip(rgb_w, guide_w)))
        self.heads = nn.ModuleList(MultiModalHead(w, a, self.num_classes, self.has_edge) for w, a in zip(rgb_w, aux_w))
        self.rgb_channels, self.aux_channels = rgb_w, aux_w
        self.structure_channels = 3 + maps_w  # channels of P_s

    def forward(self, f: Tensor, skips: list[Tensor], mask: Tensor, gt_edge: Tensor | None = None,
                gt_seg_onehot: Tensor | None = None) -> dict[str, list[Tensor]]:
        """-> dict of lists over the 3 scales: `features` (RGB branch), `rgb`, `edge`, `seg` (None where the
        modality is absent), `structure`."""
        out: dict[str, list] = {k: [] for k in ("features", "rgb", "edge", "seg", "structure")}
        x = fe = fs = f
        for i, skip in enumerate(reversed(skips)):
            x = self.rgb_stages[i](x, skip)
            edge_logits = seg_logits = a = None
            if self.has_edge:
                fe = self.edge_stages[i](fe, skip)
                edge_logits = self.heads[i].edge(fe)
            if self.has_seg:
                fs = self.seg_stages[i](fs, skip)
                seg_logits = self.heads[i].seg(fs)
            if self.has_edge or self.has_seg:
                a = self._guidance(fe if self.has_edge else None, fs if self.has_seg else None, edge_logits,
                                   seg_logits, gt_edge, gt_seg_onehot, x.shape[-2:])
            x = self.gma[i](x, a, mask)  # [paper:MMD] GMA after each RGB up-sampling stage
            rgb = torch.tanh(self.heads[i].rgb(x))
            out["features"].append(x)
            out["rgb"].append(rgb)
            out["edge"].append(edge_logits)
            out["seg"].append(seg_logits)
            out["structure"].append(MultiModalHead.structure(rgb, edge_logits, seg_logits))
        return out

    def _guidance(self, fe: Tensor | None, fs: Tensor | None, edge_logits: Tensor | None,
                  seg_logits: Tensor | None, gt_edge: Tensor | None, gt_seg: Tensor | None,
                  size: torch.Size) -> Tensor:
        """The present modalities' guidance, edge before seg: (B, Ca, h, w)."""
        if self.guidance == "unbiased":
            parts = [t for t in (fe, fs) if t is not None]
            return torch.cat(parts, dim=1)  # [paper:MMD-guidance] unbiased: a = [edge, seg features]
        if self.guidance == "biased":
            parts = ([torch.sigmoid(edge_logits)] if edge_logits is not None else []) + (
                [torch.softmax(seg_logits, 1)] if seg_logits is not None else [])
            return torch.cat(parts, dim=1)
        if (self.has_edge and gt_edge is None) or (self.has_seg and gt_seg is None):
            raise ValueError("guidance='gt' needs the ground-truth maps of the model's modalities in the batch "
                             f"(edge: {self.has_edge}, seg: {self.has_seg})")
        parts = []
        if self.has_edge:
            parts.append(area_resize(gt_edge, size))
        if self.has_seg:
            parts.append(area_resize(gt_seg, size))
        return torch.cat(parts, dim=1)
