"""Scene attributes of the built-in scenes, read from their exact label maps.

An attribute is present in an image when its classes cover at least `min_fraction` of the pixels
(chosen: 0.5 %, about 20 pixels at 64 px). Sky is left out (it is in nearly every scene).
"""
from __future__ import annotations

import numpy as np

from ..data.scenes import SCENE_CLASSES

__all__ = ["SCENE_ATTRIBUTES", "MIN_FRACTION", "attribute_labels"]

# attribute -> the scene classes that make it up
SCENE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "cloud": ("cloud",),
    "sun_moon": ("sun_moon",),
    "mountain": ("mountain",),
    "water": ("water",),
    "grass": ("grass",),
    "ground": ("ground",),
    "building": ("building", "window"),
    "tree": ("tree", "trunk"),
}
MIN_FRACTION = 0.005


def attribute_labels(labels: np.ndarray, min_fraction: float = MIN_FRACTION) -> np.ndarray:
    """labels (H, W) or (N, H, W) integer scene classes -> (K,) or (N, K) float32 in {0, 1}, K =
    len(SCENE_ATTRIBUTES), in its order: 1 where the attribute's classes cover >= min_fraction of the pixels."""
    lab = np.asarray(labels)
    single = lab.ndim == 2
    lab = lab[None] if single else lab
    n_pix = lab.shape[-1] * lab.shape[-2]
    out = np.zeros((lab.shape[0], len(SCENE_ATTRIBUTES)), np.float32)
    for k, classes in enumerate(SCENE_ATTRIBUTES.values()):
        ids = [SCENE_CLASSES.index(c) for c in classes]
        frac = np.isin(lab, ids).reshape(lab.shape[0], -1).sum(1) / n_pix
        out[:, k] = frac >= min_fraction
    return out[0] if single else out
