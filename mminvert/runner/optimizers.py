"""The optimisers of an encoder trained against a discriminator (the inpainting and diverse tasks)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
from torch import nn
from torch.optim import Optimizer

__all__ = ["encoder_and_discriminator_optimizers", "step_schedulers"]


def encoder_and_discriminator_optimizers(params: Iterable[nn.Parameter], adversarial: Any,
                                         optimizer: Callable[..., Optimizer],
                                         d_optimizer: Callable[..., Optimizer] | None,
                                         scheduler: Callable[..., Any] | None) -> Any:
    """`configure_optimizers`' value: [encoder optimiser, discriminator optimiser] (the second only when the loss
    has an adversarial term, `adversarial.discriminator`), and one scheduler per optimiser when `scheduler` is set."""
    opts = [optimizer(params)]
    if adversarial is not None:
        if d_optimizer is None:
            raise ValueError("the loss has an adversarial term but no discriminator optimiser is configured")
        opts.append(d_optimizer(adversarial.discriminator.parameters()))
    if scheduler is None:
        return opts
    return opts, [scheduler(o) for o in opts]


def step_schedulers(module: pl.LightningModule) -> None:
    """Step every learning-rate scheduler of a manually optimised module once (call once per training step)."""
    s = module.lr_schedulers()
    for sched in [] if s is None else s if isinstance(s, list) else [s]:
        sched.step()
