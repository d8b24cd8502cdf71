"""What the synthesis network accepts at a resolution: an additive feature (F&W+) or an (add, mult) pair.

A plain tensor `f` (B, C_r, r, r) is added to the block's feature map: G_f ← G_f + f (MMInvertFill's F&W+).
A `FeatureModulation(add, mult)` applies G_f ← G_f + G_f ⊙ mult + add (the stage-2 skip encoder of the
diverse-inpainting method, Yildirim et al. ICCV 2023); either part may be None. The injection happens after
the block's convolutions and before its to-RGB layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["FeatureModulation", "Injection", "inject", "injection_shapes"]


@dataclass(frozen=True)
class FeatureModulation:
    """Additive and multiplicative features for one resolution, each (B, C_r, r, r) or None."""

    add: Tensor | None = None
    mult: Tensor | None = None


Injection = Tensor | FeatureModulation


def inject(x: Tensor, feature: Injection) -> Tensor:
    """x (B, C, r, r) with `feature` applied. A tensor takes the additive path unchanged (bit-identical to
    `x + feature`); zero `add` and `mult` leave x exactly as it is."""
    if isinstance(feature, Tensor):
        return x + feature  # F&W+: G_f + F
    if feature.mult is not None:
        x = torch.addcmul(x, x, feature.mult)  # G_f + G_f ⊙ G_mult
    if feature.add is not None:
        x = x + feature.add  # ... + G_add
    return x


def injection_shapes(feature: Injection) -> dict[str, tuple[int, ...]]:
    """Shapes of the parts of an injection, by name ('feature' for a plain tensor)."""
    if isinstance(feature, Tensor):
        return {"feature": tuple(feature.shape)}
    return {name: tuple(t.shape) for name, t in (("add", feature.add), ("mult", feature.mult)) if t is not None}
