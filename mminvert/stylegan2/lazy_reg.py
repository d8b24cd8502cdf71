"""Adam with lazy-regularisation correction (StyleGAN2 appendix B).

A regulariser evaluated every k-th minibatch runs as its own optimiser step on the same optimiser, so
the optimiser makes k + 1 steps per k minibatches. Scaling lr by c = k / (k + 1) and raising the betas
to the power c keeps the effective step size and the moment horizons (in minibatches) unchanged.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import torch
from torch.optim import Optimizer

__all__ = ["lazy_reg_ratio", "build_lazy_optimizer"]


def lazy_reg_ratio(interval: int | None) -> float:
    """c = k / (k + 1) for regularisation every k steps; 1 when there is no regularisation."""
    return interval / (interval + 1) if interval else 1.0


def build_lazy_optimizer(factory: Callable[..., Optimizer], params: Iterable[torch.nn.Parameter],
                         interval: int | None) -> Optimizer:
    """Build `factory(params, lr=c·lr, betas=(β1^c, β2^c))` from a partial that carries lr and betas."""
    kwargs = dict(factory.keywords) if isinstance(factory, partial) else {}
    if "lr" not in kwargs:
        raise ValueError("the optimiser config must set `lr` (needed for the lazy-regularisation correction)")
    c = lazy_reg_ratio(interval)
    lr = float(kwargs["lr"]) * c
    if "betas" in kwargs:
        b1, b2 = (float(b) for b in kwargs["betas"])
        return factory(params, lr=lr, betas=(b1**c, b2**c))
    return factory(params, lr=lr)
