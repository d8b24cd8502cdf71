"""Real images of a data source as FID sees them: in index order, centre-cropped, not flipped or augmented."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .dataset import fit_geometry

__all__ = ["RealImages"]


class RealImages(Dataset):
    """`source` (an image source with `load(i) -> (HxWx3 uint8, labels, path)` and `len`) at `resolution`: item i
    is image i as (3, R, R) in [-1, 1], short side resized and centre-cropped. No masks or edges are computed."""

    def __init__(self, source: Any, resolution: int) -> None:
        self.source, self.resolution = source, int(resolution)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> Tensor:
        img, _, _ = self.source.load(int(index))
        img, _ = fit_geometry(img, None, self.resolution, "center", None, hflip=False)
        return torch.from_numpy(img).permute(2, 0, 1).float() / 127.5 - 1
