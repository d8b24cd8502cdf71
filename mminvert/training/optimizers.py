"""The optimisers of an encoder trained against a discriminator (the inpainting and diverse tasks)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import nn
from torch.optim import Optimizer

__all__ = ["encoder_and_discriminator_optimizers"]


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
