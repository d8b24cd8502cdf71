"""Input checks shared by the per-image optimisation baselines."""
from __future__ import annotations

from torch import Tensor

from ..stylegan2 import StyleGAN2Generator

__all__ = ["check_image_and_mask"]


def check_image_and_mask(generator: StyleGAN2Generator, image: Tensor, mask: Tensor) -> None:
    """image must be (B, 3, R, R) and mask (B, 1, R, R) with R the generator's resolution."""
    R = generator.resolution
    if image.ndim != 4 or image.shape[1:] != (3, R, R):
        raise ValueError(f"image must be (B, 3, {R}, {R}), got {tuple(image.shape)}")
    if mask.ndim != 4 or mask.shape[1:] != (1, R, R) or mask.shape[0] != image.shape[0]:
        raise ValueError(f"mask must be ({image.shape[0]}, 1, {R}, {R}), got {tuple(mask.shape)}")
