"""Poisson image blending (Pérez et al. 2003) of a generated fill into the known pixels.

Inside the hole Ω the result x solves the discrete Poisson equation with the *generated* image's
gradients as guidance and the known pixels as Dirichlet boundary:

    |N_p| x_p − Σ_{q ∈ N_p} x_q = |N_p| g_p − Σ_{q ∈ N_p} g_q   for p ∈ Ω,    x_q = y_q for q ∉ Ω,

with N_p the 4-neighbours of p inside the image. Solved per image and channel by conjugate gradients
on Ω's unknowns, batched on the device. Known pixels are returned bit-exact.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["poisson_blend"]


def _neighbour_sum(x: Tensor) -> Tensor:
    """Σ of the 4-neighbours inside the image (zero padding): (B, C, H, W) -> (B, C, H, W)."""
    p = F.pad(x, (1, 1, 1, 1))
    return p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]


def poisson_blend(fill: Tensor, image: Tensor, mask: Tensor, max_iter: int = 2000, tol: float = 1e-6) -> Tensor:
    """fill, image (B, C, H, W); mask (B, 1, H, W), 1 = known. Returns image on known pixels and the
    Poisson solution guided by `fill`'s gradients in the hole. A sample without known pixels gets `fill`.

    `tol`: stop when every system's residual norm is below tol × its right-hand side norm.
    """
    if fill.shape != image.shape or mask.shape[0] != image.shape[0] or mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"fill {tuple(fill.shape)}, image {tuple(image.shape)} and mask {tuple(mask.shape)} disagree")
    known = (mask > 0.5).to(image.dtype).expand_as(image)
    hole = 1 - known
    g, y = fill.to(torch.float64), image.to(torch.float64)
    k, h = known.to(torch.float64), hole.to(torch.float64)
    degree = _neighbour_sum(torch.ones_like(g[:1, :1]))  # |N_p|: 4 inside, 3 on edges, 2 at corners

    def apply(u: Tensor) -> Tensor:  # A restricted to the hole (u is zero outside it)
        return (degree * u - _neighbour_sum(u)) * h

    b = (degree * g - _neighbour_sum(g) + _neighbour_sum(y * k)) * h
    u = g * h  # the generated pixels are a good start
    r = b - apply(u)
    p = r.clone()
    rr = (r * r).sum(dim=(2, 3), keepdim=True)
    stop = (tol * b.flatten(2).norm(dim=2)[..., None, None]) ** 2
    for _ in range(max_iter):
        if bool((rr <= stop).all()):
            break
        Ap = apply(p)
        pAp = (p * Ap).sum(dim=(2, 3), keepdim=True)
        alpha = torch.where(pAp > 0, rr / pAp.clamp_min(1e-300), torch.zeros_like(rr))
        u = u + alpha * p
        r = r - alpha * Ap
        rr_new = (r * r).sum(dim=(2, 3), keepdim=True)
        p = r + torch.where(rr > 0, rr_new / rr.clamp_min(1e-300), torch.zeros_like(rr)) * p
        rr = rr_new
    no_known = known.flatten(1).amax(1) == 0
    blended = torch.where(known.bool(), image, u.to(image.dtype))
    if no_known.any():
        blended[no_known] = fill[no_known]
    return blended
