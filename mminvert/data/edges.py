"""Edge maps: Canny on the full, clean image (never on a model output)."""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["canny_edges"]


def canny_edges(image: np.ndarray, sigma: float = 1.0, low: int = 50, high: int = 150) -> np.ndarray:
    """image (H, W, 3) uint8 RGB -> (H, W) float32 {0, 1}: Gaussian blur σ on the gray image, then Canny."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if sigma > 0:
        gray = cv2.GaussianBlur(gray, (0, 0), sigma)
    return (cv2.Canny(gray, low, high) > 0).astype(np.float32)
