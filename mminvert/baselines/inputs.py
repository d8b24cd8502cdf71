"""Input checks and preparation shared by the per-image optimisation baselines."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..stylegan2 import StyleGAN2Generator

__all__ = ["PerImageInversion", "check_image_and_mask", "InversionInputs", "prepare_inputs", "mean_latent_start"]


def check_image_and_mask(generator: StyleGAN2Generator, image: Tensor, mask: Tensor) -> None:
    """image must be (B, 3, R, R) and mask (B, 1, R, R) with R the generator's resolution."""
    R = generator.resolution
    if image.ndim != 4 or image.shape[1:] != (3, R, R):
        raise ValueError(f"image must be (B, 3, {R}, {R}), got {tuple(image.shape)}")
    if mask.ndim != 4 or mask.shape[1:] != (1, R, R) or mask.shape[0] != image.shape[0]:
        raise ValueError(f"mask must be ({image.shape[0]}, 1, {R}, {R}), got {tuple(mask.shape)}")


class InversionInputs(NamedTuple):
    y: Tensor         # (B, 3, R, R) target in [-1, 1], float32 on the generator's device
    M: Tensor         # (B, 1, R, R) binary mask, 1 = known
    known: Tensor     # (B,) known values per sample (3 channels), at least 1
    y_masked: Tensor  # y ⊙ M


def prepare_inputs(generator: StyleGAN2Generator, image: Tensor, mask: Tensor) -> InversionInputs:
    """Checked, detached inputs on the generator's device (mask binarised at 0.5)."""
    check_image_and_mask(generator, image, mask)
    device = generator.w_avg.device
    y = image.detach().to(device, torch.float32)
    M = (mask.detach().to(device) > 0.5).to(torch.float32)
    return InversionInputs(y, M, (M.flatten(1).sum(1) * 3).clamp_min(1.0), y * M)


def mean_latent_start(generator: StyleGAN2Generator, batch: int) -> Tensor:
    """(B, num_ws, w_dim) W+ codes at the mean latent w̄, requiring grad: where the optimisations start."""
    w = generator.w_avg.detach().to(torch.float32).reshape(1, 1, -1)
    return w.repeat(batch, generator.num_ws, 1).requires_grad_(True)


class PerImageInversion(ABC):
    """Base of the per-image optimisation baselines: `inversion(image, mask)` is `inversion.invert(image, mask)`,
    (B, 3, R, R) in [-1, 1] and (B, 1, R, R) {0, 1} -> a dict with at least `image`, `composite` and the latent."""

    def __call__(self, image: Tensor, mask: Tensor) -> dict[str, Any]:
        return self.invert(image, mask)

    @abstractmethod
    def invert(self, image: Tensor, mask: Tensor) -> dict[str, Any]:
        """Optimise a latent per image so that the generator matches the known pixels; the fill of the hole."""
