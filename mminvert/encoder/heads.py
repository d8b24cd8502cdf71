"""Multi-modal multi-scale heads (MMH): 1x1 predictions of RGB, edges and segmentation per scale."""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MultiModalHead"]


class MultiModalHead(nn.Module):
    """One decoder scale. RGB ŷ_s = tanh(conv(F_rgb)) in [-1, 1]; edge logits ê_s; seg logits ŝ_s.

    `structure(...)` gives P_s = cat(ŷ_s, σ(ê_s), softmax(ŝ_s)) (B, 3 + 1 + K, h, w), without the parts
    of absent modalities (ŷ_s alone for single-modality models). The edge head exists when `edge` and
    `aux_channels` > 0, the seg head when `num_classes` > 0 and `aux_channels` > 0.
    """

    def __init__(self, rgb_channels: int, aux_channels: int = 0, num_classes: int = 0, edge: bool = True) -> None:
        super().__init__()
        self.rgb = nn.Conv2d(rgb_channels, 3, 1)
        self.edge = nn.Conv2d(aux_channels, 1, 1) if aux_channels and edge else None
        self.seg = nn.Conv2d(aux_channels, num_classes, 1) if aux_channels and num_classes else None

    def forward(self, f_rgb: Tensor, f_edge: Tensor | None = None, f_seg: Tensor | None = None
                ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        rgb = torch.tanh(self.rgb(f_rgb))
        edge = self.edge(f_edge) if self.edge is not None and f_edge is not None else None
        seg = self.seg(f_seg) if self.seg is not None and f_seg is not None else None
        return rgb, edge, seg

    @staticmethod
    def structure(rgb: Tensor, edge: Tensor | None, seg: Tensor | None) -> Tensor:
        parts = [rgb]
        if edge is not None:
            parts.append(torch.sigmoid(edge))
        if seg is not None:
            parts.append(torch.softmax(seg, dim=1))
        return torch.cat(parts, dim=1)  # [paper:MMH] P_s = cat(ŷ_s, σ(ê_s), softmax(ŝ_s))
