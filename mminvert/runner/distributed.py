"""What a run on several devices (DDP, one process per device, possibly several nodes) needs from mminvert's tasks.

- **Strategy.** Every task optimises manually, and its backward passes reach only part of the module: the encoder
  step does not reach the discriminator, StyleGAN2's lazy R1 / path-length phases come every k-th step only, the
  WGAN critic steps reach no generator weight. Plain DDP then fails at step 0 ("Expected to have finished
  reduction"). `configure_ddp` turns on `find_unused_parameters` for manually optimised modules under *any* DDP
  strategy Lightning picked (`strategy: ddp`, `auto` with devices > 1, `ddp_spawn`, SLURM multi-node), and refuses
  `static_graph`, which cannot describe a graph that changes from step to step.
- **SyncBatchNorm.** The BatchNorm users (the diverse stage-2 skip encoder, the WGAN generator) normalise over the
  global batch on CUDA. torch's SyncBatchNorm has no CPU kernel, so CPU DDP keeps per-rank statistics (a warning
  says so).
- **Per-rank randomness.** `seed_everything` seeds every rank alike; `rank_seed` gives each rank its own stream for
  the randomness of its training step (noise inputs, latents), while the data sampler stays shared.
"""
from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy
from torch import nn

__all__ = ["configure_ddp", "uses_batchnorm", "rank_seed"]

log = logging.getLogger(__name__)


def uses_batchnorm(module: nn.Module) -> bool:
    """Whether any trainable BatchNorm layer is in `module` (frozen, eval-mode ones need no synchronisation)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and any(p.requires_grad for p in m.parameters())
               for m in module.modules())


def configure_ddp(trainer: pl.Trainer, module: pl.LightningModule) -> None:
    """Make `trainer`'s DDP strategy (if it has one) correct for `module`; call before `fit`, on every rank.

    Manually optimised modules get `find_unused_parameters=True`; a static graph is refused (ValueError). On CUDA
    with more than one process, trainable BatchNorm layers become SyncBatchNorm."""
    strategy = trainer.strategy
    if not isinstance(strategy, DDPStrategy):
        return
    kwargs = strategy._ddp_kwargs  # read by DDPStrategy when it wraps the model, at the start of fit
    if not getattr(module, "automatic_optimization", True):
        if kwargs.get("static_graph"):
            raise ValueError(f"{type(module).__name__} optimises manually with several backward passes per step "
                             "that reach different parameters (some only every k-th step): DDP's static_graph "
                             "cannot describe it. Use trainer.strategy=ddp.")
        kwargs["find_unused_parameters"] = True
    if trainer.world_size > 1 and uses_batchnorm(module):
        if strategy.root_device.type == "cuda":
            nn.SyncBatchNorm.convert_sync_batchnorm(module)  # children are replaced in place
        else:
            log.warning("%s has BatchNorm layers: on %s, DDP keeps their batch statistics per rank (torch's "
                        "SyncBatchNorm needs CUDA)", type(module).__name__, strategy.root_device.type)


def rank_seed(rank: int) -> int | None:
    """A seed for the global RNG of DDP rank `rank` (> 0), derived from the run's seed; None for rank 0, which
    keeps the stream `seed_everything` gave it, so a single-device run is unchanged."""
    if rank <= 0:
        return None
    return (torch.initial_seed() + 104_729 * rank) % 2**63
