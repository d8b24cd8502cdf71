"""Model images as 8-bit pictures, for example grids, figures and saved composites, and their atomic PNG files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..io.atomic import atomic_path

__all__ = ["to_rgb8", "write_png"]


def to_rgb8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [-1, 1] on the CPU -> (H, W, 3) uint8 (rounded, clipped)."""
    return ((x.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def write_png(image: np.ndarray, target: str | os.PathLike) -> Path:
    """Write an (H, W, 3) uint8 image to `target` as PNG, atomically (the parent folder is created)."""
    with atomic_path(target) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return Path(target)
