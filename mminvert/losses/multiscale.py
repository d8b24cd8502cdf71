"""Multi-scale reconstruction L_ms = Σ_s [L1(ŷ_s, y↓s) + Perc(ŷ_s, y↓s) + BCE(ê_s, e↓s) + CE(ŝ_s, s↓s)]."""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MultiScaleLoss", "balanced_bce_with_logits"]

IGNORE_INDEX = 255
EDGE_LOSSES = ("balanced", "plain")


def balanced_bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """Class-balanced BCE of HED (Xie & Tu 2015) as MMT's edge loss uses it: logits and targets (B, 1, H, W),
    targets in [0, 1] -> scalar.

    Per image, with β = fraction of non-edge pixels, Σ(1 − t) / HW:
        mean over pixels of −[β · t · log σ(x) + (1 − β) · (1 − t) · log(1 − σ(x))],
    then the mean over the batch. Edge pixels (rare) are weighted by the non-edge fraction and non-edge pixels
    by the edge fraction, so predicting "no edge" everywhere no longer minimises the loss. Soft targets
    (area-down-sampled edges) count fractionally towards both classes; for {0, 1} targets this is exactly
    MMT's `bce2d`, up to MMT pooling the class counts over the whole batch instead of per image. An image
    without edges contributes 0 (as in HED / MMT).
    """
    beta = (1 - target).mean(dim=(1, 2, 3), keepdim=True)
    per_pixel = beta * target * F.logsigmoid(logits) + (1 - beta) * (1 - target) * F.logsigmoid(-logits)
    return -per_pixel.mean()


class MultiScaleLoss(nn.Module):
    """Targets are down-sampled per scale: images and edges by area averaging (soft edge targets for
    BCE), labels by nearest neighbour (CE ignores 255). Missing predictions (single-modality models)
    are skipped. The perceptual network is shared with L_inp's and passed in at call time.

    `edge_loss`: `balanced` (default, `balanced_bce_with_logits`, MMT's class-balanced edge BCE) or
    `plain` (unweighted BCE, before #13: sparse edges pull the predictions towards "no edge")."""

    def __init__(self, weight: float = 1.0, l1: float = 1.0, perceptual: float = 1.0, bce: float = 1.0,
                 ce: float = 1.0, edge_loss: str = "balanced") -> None:
        super().__init__()
        if edge_loss not in EDGE_LOSSES:
            raise ValueError(f"edge_loss must be one of {EDGE_LOSSES}, got {edge_loss!r}")
        self.weight, self.l1, self.perceptual_weight, self.bce, self.ce = weight, l1, perceptual, bce, ce
        self.edge_loss = edge_loss
        self._edge_bce = balanced_bce_with_logits if edge_loss == "balanced" else F.binary_cross_entropy_with_logits

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
                total = total + self.bce * self._edge_bce(edge, e)
            seg = out.get("seg", [None] * 3)[s]
            if self.ce and seg is not None:
                target = F.interpolate(batch["seg"][:, None].float(), size=size, mode="nearest")[:, 0].long()
                # mean over labelled pixels, 0 without any (no host-side test of the labels: no device sync)
                labelled = (target != IGNORE_INDEX).sum().clamp(min=1)
                ce = F.cross_entropy(seg, target, ignore_index=IGNORE_INDEX, reduction="sum") / labelled
                total = total + self.ce * ce
        return total
