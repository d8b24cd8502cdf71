"""Fidelity loss L_fid = ‖w − w̄_onl‖²: keeps the W+ codes near the generator's mean latent."""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["FidelityLoss"]


class FidelityLoss(nn.Module):
    """mean over batch, codes and dimensions of (ws − w̄_onl)² (a mean, so the weight does not depend on w_dim)."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor]) -> Tensor:
        return (out["ws"] - out["w_mean"]).square().mean()  # [paper:L_fid] ‖w − w̄_onl‖²
