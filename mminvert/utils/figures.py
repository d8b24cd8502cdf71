"""Figures people look at: sample sheets and example grids are enlarged (nearest neighbour, so pixels stay
pixels) until every image in them is at least `MIN_TILE` px wide; a 32 px model's grid is then readable."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["MIN_TILE", "readable"]

MIN_TILE = 256


def readable(grid: np.ndarray, tile: int, min_tile: int = MIN_TILE) -> np.ndarray:
    """(H, W, C) or (H, W) uint8 grid of `tile`-px images -> the grid enlarged by the whole factor
    ceil(min_tile / tile) (nearest neighbour); unchanged when the tiles are already that large."""
    factor = max(1, math.ceil(min_tile / max(1, int(tile))))
    if factor == 1:
        return grid
    return np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)
