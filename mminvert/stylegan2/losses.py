"""StyleGAN2 losses: non-saturating logistic GAN loss, R1 on reals, path-length regularisation.

All functions return per-sample values (B,) so callers choose the reduction; images are (B, C, H, W).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["d_logistic_loss", "g_nonsaturating_loss", "r1_penalty", "path_lengths"]


def d_logistic_loss(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    """Discriminator logistic loss, split into its real and fake terms: softplus(−D(x)), softplus(D(G(z)))."""
    return F.softplus(-real_logits).flatten(), F.softplus(fake_logits).flatten()


def g_nonsaturating_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss −log σ(D(G(z))) = softplus(−D(G(z))). (B, 1) -> (B,)."""
    return F.softplus(-fake_logits).flatten()


def r1_penalty(real_logits: Tensor, reals: Tensor) -> Tensor:
    """R1 = ‖∇_x D(x)‖² per real sample (B,), differentiable (create_graph) so it can be minimised.

    `reals` must require grad and `real_logits` must have been computed from it.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
    return grad.square().sum(dim=list(range(1, grad.ndim)))


def path_lengths(images: Tensor, ws: Tensor) -> Tensor:
    """‖J_wᵀ y‖₂ per sample (B,) with y ~ N(0, I)/sqrt(H·W), averaged over the W+ entries (StyleGAN2 §3.2).

    images: (B, C, H, W) generated from ws: (B, num_ws, w_dim); differentiable (create_graph).
    """
    h, w = images.shape[-2:]
    noise = torch.randn_like(images) / (h * w) ** 0.5
    (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    return grad.square().sum(dim=2).mean(dim=1).sqrt()
