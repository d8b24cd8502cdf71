"""Methods an evaluation compares: a trained inversion model, OpenCV's Telea inpainting as a classical
reference row, and optimisation-based inversion of the same frozen generator (Wauquiez) as the
per-image-optimisation reference row."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = ["ModelMethod", "TeleaMethod", "OptimInversionMethod"]


class ModelMethod:
    """A trained model (MMInvertFill family): batch -> {'composite' (B,3,H,W) [-1,1], 'seg' logits or None}."""

    def __init__(self, model: torch.nn.Module, name: str = "model", device: str | torch.device = "cpu") -> None:
        self.model, self.name, self.device = model.eval().to(device), name, torch.device(device)

    @torch.no_grad()
    def __call__(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        b = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        out = self.model(b)
        seg = out["seg"][-1] if out.get("seg") and out["seg"][-1] is not None else None
        return {"composite": out["composite"].float().cpu(), "seg": None if seg is None else seg.float().cpu()}


class TeleaMethod:
    """cv2.inpaint with Telea's fast marching method (radius 3) on 8-bit images."""

    name = "telea"

    def __init__(self, radius: int = 3) -> None:
        self.radius = radius

    def __call__(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        outs = []
        for img, mask in zip(batch["image"], batch["mask"]):
            rgb = ((img.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
            hole = ((mask[0].numpy() < 0.5) * 255).astype(np.uint8)
            filled = cv2.inpaint(rgb, hole, self.radius, cv2.INPAINT_TELEA)
            t = torch.from_numpy(filled).permute(2, 0, 1).float() / 127.5 - 1
            outs.append(torch.where(mask.bool(), img, t))  # known pixels exactly as given
        return {"composite": torch.stack(outs), "seg": None}


class OptimInversionMethod:
    """`OptimInversion` (W+ optimisation, MSE on known pixels + optional perceptual term) on `generator`.

    Slow by design: `steps` generator forward/backward passes per batch (see benchmarks/bench_inference.py).
    """

    name = "optim_inversion"

    def __init__(self, generator: torch.nn.Module, device: str | torch.device = "cpu", perceptual: Any = None,
                 **options: Any) -> None:
        from ..baselines import OptimInversion

        self.device = torch.device(device)
        self.inversion = OptimInversion(generator.to(self.device), perceptual=perceptual, **options)

    def __call__(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        out = self.inversion(batch["image"].to(self.device), batch["mask"].to(self.device))
        composite = torch.where(batch["mask"] > 0.5, batch["image"], out["image"].float().cpu())
        return {"composite": composite, "seg": None}
