"""Hole masks of the app, as boolean `known` maps (H, W): True = known pixel, False = hole.

- `mask_from_layers`: the image editor's paint layers (RGBA at the editor's size; painted = hole), scaled to
  the image's size with nearest-neighbour;
- `preset_mask`: a box, free-form strokes or an outpainting band with a target hole ratio, drawn from a seed
  with the training mask generators of `mminvert.data.masks`;
- `layer_from_known`: the paint layer that shows a mask in the editor (so presets can be edited further).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from ..data.masks import FreeFormMasks

__all__ = ["PRESETS", "PAINT_RGBA", "mask_from_layers", "preset_mask", "layer_from_known", "hole_ratio"]

PRESETS = ("box", "free-form", "outpaint border", "outpaint side")
PAINT_RGBA = (255, 0, 255, 150)  # the brush colour: magenta, partly transparent so the image stays visible


def hole_ratio(known: np.ndarray) -> float:
    return float(1.0 - known.mean()) if known.size else 0.0


def _painted(layer: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels carrying paint (alpha > 0; any non-zero value for layers without alpha)."""
    a = np.asarray(layer)
    if a.ndim == 2:
        return a > 0
    if a.shape[2] == 4:
        return a[..., 3] > 0
    return a.max(axis=2) > 0


def mask_from_layers(layers: Sequence[np.ndarray | None], size: tuple[int, int]) -> np.ndarray:
    """Known map (H, W) bool for an image of `size` = (H, W): every pixel painted in any layer is a hole.

    Layers are at the editor's size (the image, or its preview when the image was scaled down for display);
    they are resized to `size` with nearest-neighbour. No layers / no paint gives an all-known map.
    """
    H, W = size
    hole = np.zeros((H, W), bool)
    for layer in layers or ():
        if layer is None:
            continue
        p = _painted(layer)
        if p.shape != (H, W):
            p = cv2.resize(p.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST) > 0
        hole |= p
    return ~hole


def preset_mask(kind: str, ratio: float, seed: int, height: int, width: int) -> np.ndarray:
    """Known map (height, width) bool of preset `kind` (one of PRESETS) with a hole ratio close to `ratio`.

    box: one rectangle of the image's aspect ratio, area `ratio`, at a seeded position; free-form: brush
    strokes added until the hole ratio reaches `ratio`; outpaint border: a centred known box of area
    1 − ratio; outpaint side: a band of relative width `ratio` on a seeded side.
    """
    if kind not in PRESETS:
        raise ValueError(f"unknown mask preset {kind!r}; expected one of {', '.join(PRESETS)}")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"hole ratio must be in (0, 1), got {ratio}")
    rng = np.random.default_rng(int(seed))
    known = np.ones((height, width), bool)
    if kind == "box":
        s = math.sqrt(ratio)
        bh, bw = max(1, round(s * height)), max(1, round(s * width))
        y0, x0 = int(rng.integers(0, height - bh + 1)), int(rng.integers(0, width - bw + 1))
        known[y0 : y0 + bh, x0 : x0 + bw] = False
    elif kind == "free-form":
        strokes = FreeFormMasks(strokes=(1, 1))
        while hole_ratio(known) < ratio:
            known &= strokes(rng, height, width) > 0.5
    elif kind == "outpaint border":
        s = math.sqrt(1.0 - ratio)
        kh, kw = max(1, round(s * height)), max(1, round(s * width))
        y0, x0 = (height - kh) // 2, (width - kw) // 2
        known[:] = False
        known[y0 : y0 + kh, x0 : x0 + kw] = True
    else:
        side = int(rng.integers(4))
        band = max(1, round(ratio * (height if side < 2 else width)))
        region = {0: (slice(0, band), slice(None)), 1: (slice(height - band, None), slice(None)),
                  2: (slice(None), slice(0, band)), 3: (slice(None), slice(width - band, None))}[side]
        known[region] = False
    return known


def layer_from_known(known: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 paint layer: PAINT_RGBA on the hole, transparent elsewhere."""
    layer = np.zeros((*known.shape, 4), np.uint8)
    layer[~known] = PAINT_RGBA
    return layer
