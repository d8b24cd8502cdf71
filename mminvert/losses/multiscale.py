"""Multi-scale reconstruction L_ms = Σ_s [L1(ŷ_s, y↓s) + Perc(ŷ_s, y↓s) + BCE(ê_s, e↓s) + CE(ŝ_s, s↓s)]."""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MultiScaleLoss"]

IGNORE_INDEX = 255


class MultiScaleLoss(nn.Module):
    """Targets are down-sampled per scale: images and edges by area averaging (soft edge targets for
    BCE), labels by nearest neighbour (CE ignores 255). Missing predictions (single-modality models)
    are skipped. The perceptual network is shared with L_inp's and passed in at call time."""

    def __init__(self, weight: float = 1.0, l1: float = 1.0, perceptual: float = 1.0, bce: float = 1.0,
                 ce: float = 1.0) -> None:
        super().__init__()
        self.weight, self.l1, self.perceptual_weight, self.bce, self.ce = weight, l1, perceptual, bce, ce

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor], perceptual: nn.Module | None = None) -> Tensor:
        total = 0.0
        for s, rgb in enumerate(out["rgb"]):  # [paper:L_ms] Σ_s over the decoder scales
            size = rgb.shape[-2:]
            y = F.interpolate(batch["image"], size=size, mode="area")
            total = total + self.l1 * F.l1_loss(rgb, y)
            if self.perceptual_weight and perceptual is not None:
                total = total + self.perceptual_weight * perceptual.distance(rgb, y)
            edge = out.get("edge", [None] * 3)[s]
            if self.bce and edge is not None:
                e = F.interpolate(batch["edge"], size=size, mode="area")
                total = total + self.bce * F.binary_cross_entropy_with_logits(edge, e)
            seg = out.get("seg", [None] * 3)[s]
            if self.ce and seg is not None:
                target = F.interpolate(batch["seg"][:, None].float(), size=size, mode="nearest")[:, 0].long()
                if (target != IGNORE_INDEX).any():
                    total = total + self.ce * F.cross_entropy(seg, target, ignore_index=IGNORE_INDEX)
        return total
