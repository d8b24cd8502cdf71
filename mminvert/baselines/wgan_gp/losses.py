"""WGAN-GP objective (Gulrajani et al. 2017, Algorithm 1):

    L_D = E[D(x̃)] − E[D(x)] + λ E[(‖∇_x̂ D(x̂)‖₂ − 1)²],   x̂ = ε x + (1 − ε) x̃,  ε ~ U[0, 1] per sample
    L_G = −E[D(x̃)]
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...utils.precision import autocast_off

__all__ = ["gradient_penalty", "critic_loss", "generator_loss"]


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor | None = None
                     ) -> Tensor:
    """(‖∇_x̂ D(x̂)‖₂ − 1)² per sample (B,), x̂ = ε·real + (1 − ε)·fake; ε (B,) drawn U[0, 1) when None.
    Differentiable in the critic's parameters (create_graph)."""
    B = real.shape[0]
    if eps is None:
        eps = torch.rand(B, device=real.device, dtype=real.dtype)
    e = eps.view(B, *([1] * (real.ndim - 1)))
    x_hat = (e * real.detach() + (1 - e) * fake.detach()).float().requires_grad_(True)
    with autocast_off(x_hat.device):  # the double backward in fp32 under bf16-mixed
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square()


def critic_loss(real_scores: Tensor, fake_scores: Tensor, penalty: Tensor, lambda_gp: float = 10.0) -> Tensor:
    """E[D(x̃)] − E[D(x)] + λ E[penalty]."""
    return fake_scores.mean() - real_scores.mean() + lambda_gp * penalty.mean()


def generator_loss(fake_scores: Tensor) -> Tensor:
    """−E[D(x̃)]."""
    return -fake_scores.mean()
