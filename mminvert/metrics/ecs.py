"""Edit-consistency score (ECS; Grechka et al., MAGEC, BMVC 2021): how well an inversion survives an
edit cycle. With p(x) the inversion's reconstruction, x_edit = G(e(w*)) the edited image, and x_cyc the
image obtained by inverting x_edit and applying the inverse edit e⁻¹:

    ECS = 2 · d(p(x), x_cyc) / (d(p(x), x_edit) + d(x_edit, x_cyc))

with d a perceptual distance (LPIPS in the paper). 0: the cycle returns exactly; > 1: it lands farther
from p(x) than the edit itself moved it (poor).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["edit_consistency_score", "edit_cycle", "mean_ecs_per_edit"]

Distance = Callable[[Tensor, Tensor], Tensor]


def edit_consistency_score(p_x: Tensor, x_edit: Tensor, x_cyc: Tensor, distance: Distance, eps: float = 1e-12
                           ) -> Tensor:
    """Images (B, 3, H, W); `distance(a, b)` -> per-sample distances (B,) (or (B, 1, 1, 1)). Returns (B,)."""
    def d(a: Tensor, b: Tensor) -> Tensor:
        return distance(a, b).reshape(a.shape[0], -1).mean(1)

    # ECS = 2·d(p(x), x_cyc) / (d(p(x), x_edit) + d(x_edit, x_cyc))
    return 2 * d(p_x, x_cyc) / (d(p_x, x_edit) + d(x_edit, x_cyc)).clamp_min(eps)


@torch.no_grad()
def edit_cycle(invert: Callable[[Tensor, Tensor], dict[str, Any]], render: Callable[[Tensor], Tensor], ws: Tensor,
               edit: Callable[[Tensor, float], Tensor], strength: float) -> tuple[Tensor, Tensor, Tensor]:
    """One edit cycle from an inversion's code ws: p(x) = render(ws), x_edit = render(e(ws)), then x_edit is
    inverted as a complete image (mask of ones) and x_cyc = render(e⁻¹(w_edit*)), e⁻¹ = the edit with
    −strength. `invert(image, mask)` returns a dict with "ws"; `edit(ws, s)` applies the latent edit."""
    p_x = render(ws)
    x_edit = render(edit(ws, strength))
    full = torch.ones_like(x_edit[:, :1])
    with torch.enable_grad():  # the inversion optimises
        ws_edit = invert(x_edit, full)["ws"]
    x_cyc = render(edit(ws_edit, -strength))
    return p_x, x_edit, x_cyc


def mean_ecs_per_edit(inversion: Callable[[Tensor, Tensor], dict[str, Any]], render: Callable[[Tensor], Tensor],
                      image: Tensor, mask: Tensor, edits: list[tuple[str, float]], edit: Callable[[Tensor, str, float], Tensor],
                      distance: Distance) -> dict[str, float]:
    """Invert (image, mask) once, then for every (attribute, strength) edit run `edit_cycle` and average the
    ECS over the batch: {"<attribute><+|->strength": mean ECS}."""
    ws = inversion(image, mask)["ws"]
    out: dict[str, float] = {}
    for attribute, strength in edits:
        p_x, x_edit, x_cyc = edit_cycle(inversion, render, ws, lambda w, s: edit(w, attribute, s), strength)
        out[f"{attribute}{strength:+g}"] = float(edit_consistency_score(p_x, x_edit, x_cyc, distance).mean())
    return out
