"""WGAN-GP training as a LightningModule (manual optimisation), step 1 of Vitoria et al.'s semantic
inpainting: learn the data's latent space; the inpainting then optimises z against the frozen G with the
critic as the prior (`mminvert.baselines.ContextualInversion`).

One training step = one generator iteration of Gulrajani et al.'s Algorithm 1: the batch holds
`n_critic`·m reals; each of its n_critic chunks of m reals drives one critic update (fresh z each time,
gradient penalty λ_GP), then one generator update on m fresh z. `trainer.global_step` therefore counts
generator iterations, and `data.batch_size` must be a multiple of n_critic. Randomness (z, ε) comes from a
private stream saved in checkpoints, so a resumed run repeats an uninterrupted one exactly.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.optim import Optimizer

from ..baselines.wgan_gp.losses import critic_loss, generator_loss, gradient_penalty
from ..baselines.wgan_gp.networks import DCGANCritic, DCGANGenerator
from ..utils.precision import refuse_fp16
from ..utils.rng import RNGStream, rank_streams_state, restore_global_rng, resume_rank_stream

__all__ = ["WGANGPModule"]

log = logging.getLogger(__name__)


class WGANGPModule(pl.LightningModule):
    """Trains `generator` against `critic` with the WGAN-GP losses. Batches: dict with "image"
    (n_critic·m, 3, R, R) in [-1, 1] (or a tensor / (image, ...) tuple). Optimisers are partials."""

    def __init__(self, generator: DCGANGenerator, critic: DCGANCritic, g_optimizer: Callable[..., Optimizer],
                 d_optimizer: Callable[..., Optimizer], *, n_critic: int = 5, lambda_gp: float = 10.0,
                 seed: int = 0) -> None:
        super().__init__()
        if not isinstance(generator, DCGANGenerator) or not isinstance(critic, DCGANCritic):
            raise TypeError(f"task=wgan_gp trains a DCGAN generator and critic, got {type(generator).__name__} and "
                            f"{type(critic).__name__}: choose a DCGAN preset of conf/gan/ (gan=dcgan64 | dcgan_scenes64 | "
                            "dcgan_tiny; the other presets are task=stylegan2's)")
        if generator.resolution != critic.resolution:
            raise ValueError(f"generator makes {generator.resolution}² images, critic reads {critic.resolution}²")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        self.automatic_optimization = False
        self.generator, self.critic = generator, critic
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.n_critic, self.lambda_gp, self.seed = int(n_critic), float(lambda_gp), int(seed)
        self.rng = RNGStream(self.seed)
        self._resume_global_rng: dict[str, Any] | None = None

    def configure_optimizers(self) -> list[Optimizer]:
        return [self.g_optimizer(self.generator.parameters()), self.d_optimizer(self.critic.parameters())]

    def setup(self, stage: str) -> None:
        self.rng = RNGStream(self.seed * 1000 + self.global_rank)  # replaced on resume

    def on_fit_start(self) -> None:
        refuse_fp16(self.trainer, "WGAN-GP")

    def on_train_start(self) -> None:
        if self._resume_global_rng is not None:
            restore_global_rng(self._resume_global_rng)
            self._resume_global_rng = None

    def _images(self, batch: Any) -> Tensor:
        img = batch["image"] if isinstance(batch, dict) else batch[0] if isinstance(batch, (list, tuple)) else batch
        R = self.generator.resolution
        if img.ndim != 4 or tuple(img.shape[1:]) != (3, R, R):
            raise ValueError(f"training images must be (B, 3, {R}, {R}), got {tuple(img.shape)}: set "
                             f"data.resolution={R}")
        if img.shape[0] % self.n_critic:
            raise ValueError(f"batch of {img.shape[0]} reals is not a multiple of n_critic={self.n_critic} "
                             "(one step = n_critic critic updates on chunks of the batch + one generator update)")
        return img

    def sample_z(self, n: int) -> Tensor:
        return torch.randn(n, self.generator.z_dim, device=self.device)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        reals = self._images(batch).chunk(self.n_critic)
        m = reals[0].shape[0]
        opt_g, opt_d = self.optimizers()
        logs: dict[str, Tensor] = {}
        with self.rng.active(self.device):
            self.generator.requires_grad_(False)
            for real in reals:  # critic iterations
                with torch.no_grad():
                    fake = self.generator(self.sample_z(m))
                real_scores, fake_scores = self.critic(real), self.critic(fake)
                penalty = gradient_penalty(self.critic, real, fake)
                loss_d = critic_loss(real_scores, fake_scores, penalty, self.lambda_gp)
                opt_d.optimizer.zero_grad(set_to_none=True)
                self.manual_backward(loss_d)
                opt_d.optimizer.step()
            self.generator.requires_grad_(True)
            self.critic.requires_grad_(False)
            loss_g = generator_loss(self.critic(self.generator(self.sample_z(m))))
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss_g)
            opt_g.step()  # the counted step: global_step += 1
            self.critic.requires_grad_(True)
        logs = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "gp": penalty.mean().detach(),
                "wasserstein": (real_scores.mean() - fake_scores.mean()).detach()}
        self.log_dict({f"train/{k}": v for k, v in logs.items()}, on_step=True, on_epoch=False, batch_size=m)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["wgan_gp_rng"] = rank_streams_state(self.rng, self.trainer.world_size)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rank = self.global_rank if self._trainer is not None else 0
        resumed = resume_rank_stream(checkpoint, "wgan_gp_rng", rank, self.seed)
        if resumed is not None:
            self.rng, self._resume_global_rng = resumed
