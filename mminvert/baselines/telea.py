"""Telea's fast-marching inpainting (Telea 2004, OpenCV's `cv2.inpaint` with INPAINT_TELEA): the classical reference
row of every evaluation, the app's `telea` method and MAGEC's initial fill. The one place it is called."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = ["telea_uint8", "telea_fill"]


def telea_uint8(pixels: np.ndarray, hole: np.ndarray, radius: int = 3) -> np.ndarray:
    """(H, W, 3) or (H, W) uint8, hole (H, W) bool (True = fill) -> the filled uint8 image, same shape. Only hole
    pixels change."""
    hole_u8 = hole.astype(np.uint8) * 255
    return cv2.inpaint(np.ascontiguousarray(pixels), hole_u8, radius, cv2.INPAINT_TELEA)


def telea_fill(image: Tensor, mask: Tensor, radius: int = 3) -> Tensor:
    """(B, 3, H, W) in [-1, 1], mask (B, 1, H, W) {0, 1} 1 = known -> (B, 3, H, W) in [-1, 1]: the 8-bit Telea fill of
    the hole, known pixels exactly as given."""
    outs = []
    for img, m in zip(image.detach().cpu(), mask.detach().cpu()):
        rgb = ((img.permute(1, 2, 0).float().numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        t = torch.from_numpy(telea_uint8(rgb, m[0].numpy() < 0.5, radius)).permute(2, 0, 1).float() / 127.5 - 1
        outs.append(torch.where(m > 0.5, img.float(), t))
    return torch.stack(outs).to(image.device, image.dtype)
