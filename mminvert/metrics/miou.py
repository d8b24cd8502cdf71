"""Mean intersection-over-union of segmentation predictions, from a streaming confusion matrix."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ConfusionMatrix"]

IGNORE_INDEX = 255


class ConfusionMatrix:
    """`update(pred_labels (B,H,W), target (B,H,W))` (255 in target ignored); `miou()` over classes that
    occur in the target or the prediction."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)

    def update(self, pred: Tensor, target: Tensor) -> None:
        valid = target != IGNORE_INDEX
        idx = target[valid].long() * self.num_classes + pred[valid].long()
        self.matrix += torch.bincount(idx.cpu(), minlength=self.num_classes**2).reshape(self.num_classes, -1)

    def iou(self) -> Tensor:
        m = self.matrix.double()
        inter = m.diag()
        union = m.sum(0) + m.sum(1) - inter
        return torch.where(union > 0, inter / union.clamp_min(1), torch.full_like(inter, float("nan")))

    def miou(self) -> float:
        iou = self.iou()
        return float(iou[~iou.isnan()].mean()) if (~iou.isnan()).any() else float("nan")
