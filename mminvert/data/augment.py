"""Geometric augmentation with kornia, applied identically to the image and its label map."""
from __future__ import annotations

import kornia.augmentation as K
from torch import Tensor

__all__ = ["GeometricAugment"]


class GeometricAugment:
    """Random horizontal flip and a small affine warp (reflection padding, so no empty borders).

    image (3, H, W) float, seg (H, W) int64 -> both warped with the same parameters (labels nearest).
    Edges are computed afterwards from the warped image, and masks are drawn afterwards, so all
    modalities stay aligned.
    """

    def __init__(self, hflip: float = 0.5, degrees: float = 5.0, scale: tuple[float, float] = (0.95, 1.1),
                 p_affine: float = 0.5) -> None:
        self.seq = K.AugmentationSequential(
            K.RandomHorizontalFlip(p=hflip),
            K.RandomAffine(degrees=degrees, scale=tuple(scale), padding_mode="reflection", p=p_affine),
            data_keys=["input", "mask"])

    def __call__(self, image: Tensor, seg: Tensor) -> tuple[Tensor, Tensor]:
        img, lab = self.seq(image[None], seg[None, None].float())
        return img[0].clamp(-1, 1), lab[0, 0].round().long()
