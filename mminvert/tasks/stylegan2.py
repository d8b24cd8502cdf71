"""StyleGAN2 pre-training as a LightningModule (manual optimisation of G and D).

One training step = one minibatch of reals and four phases, as in StyleGAN2 / stylegan2-ada:
  D main: softplus(D(G(z))) + softplus(−D(x))                       (non-saturating logistic loss)
  D reg : every `d_reg_interval` steps, γ/2 · ‖∇_x D(x)‖² · interval  (lazy R1 on reals; `r1_gamma=None`: γ from
          stylegan2-ada's heuristic 0.0002·R²/batch, R = resolution, batch = global batch, logged at the first step)
  G main: softplus(−D(G(z)))
  G reg : every `g_reg_interval` steps, w_pl · (‖J_wᵀy‖ − a)² · interval (lazy path-length reg.)
then G_ema ← lerp(G, G_ema, β). Latents are style-mixed; images pass a differentiable augmentation
(optional) before D. The regularisation phases are separate steps of the same Adam, hence the lr/beta
correction of `optim.build_lazy_optimizer`. `trainer.global_step` counts training steps (only the G-main
step goes through Lightning's step counter), so `trainer.max_steps` is a number of minibatches.

G_ema is a non-trained copy (requires_grad False, so DDP's reducer ignores it); it is what the export
callback saves and what sample grids / FID use.
"""
from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ..stylegan2.discriminator import StyleGAN2Discriminator
from ..stylegan2.ema import ema_beta, ema_update
from ..stylegan2.generator import StyleGAN2Generator
from ..stylegan2.lazy_reg import build_lazy_optimizer
from ..stylegan2.losses import d_logistic_loss, g_nonsaturating_loss, path_lengths, r1_penalty
from ..stylegan2.style_mixing import mix_styles
from ..utils.precision import autocast_off, refuse_fp16
from ..utils.rng import RNGStream, rank_stream_from_state, rank_streams_state, restore_global_rng

__all__ = ["StyleGAN2Module", "r1_gamma_heuristic"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of `module` get no gradients inside the block (gradients still flow through it)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


def r1_gamma_heuristic(resolution: int, batch_size: int) -> float:
    """stylegan2-ada's R1 weight for `resolution` px and a global minibatch of `batch_size`: 0.0002·R²/batch."""
    return 0.0002 * resolution**2 / batch_size


class StyleGAN2Module(pl.LightningModule):
    """Trains `generator` and `discriminator` adversarially; keeps `g_ema`.

    Batches: a dict with "image" (B, C, R, R) in [-1, 1] (a bare tensor or (image, ...) also works),
    R = generator.resolution. Optimisers are partials (`_partial_: true`) with lr and betas.
    """

    def __init__(
        self,
        generator: StyleGAN2Generator,
        discriminator: StyleGAN2Discriminator,
        g_optimizer: Callable[..., Optimizer],
        d_optimizer: Callable[..., Optimizer],
        *,
        r1_gamma: float | None = 10.0,
        d_reg_interval: int = 16,
        pl_weight: float = 2.0,
        g_reg_interval: int = 4,
        pl_batch_shrink: int = 2,
        pl_decay: float = 0.01,
        style_mixing_prob: float = 0.9,
        ema_kimg: float = 10.0,
        ema_rampup: float | None = None,
        w_avg_beta: float = 0.995,
        augment: nn.Module | None = None,
        channels_last: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(generator, StyleGAN2Generator) or not isinstance(discriminator, StyleGAN2Discriminator):
            raise TypeError(f"task=stylegan2 trains a StyleGAN2 generator and discriminator, got {type(generator).__name__} "
                            f"and {type(discriminator).__name__}: choose a StyleGAN2 preset of conf/gan/ (gan=scenes64 | "
                            "tiny | small32 | small64 | small128 | small256 | 256_configf; gan=dcgan* are task=wgan_gp's)")
        if generator.resolution != discriminator.resolution or generator.img_channels != discriminator.img_channels:
            raise ValueError(f"generator makes {generator.img_channels}x{generator.resolution}² images, discriminator "
                             f"reads {discriminator.img_channels}x{discriminator.resolution}²")
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.g_ema = copy.deepcopy(generator).requires_grad_(False)  # no train/eval-dependent layers
        self.augment = augment
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.r1_gamma = None if r1_gamma is None else float(r1_gamma)  # None: the heuristic, set at the first step
        self.d_reg_interval = int(d_reg_interval)
        self.pl_weight, self.g_reg_interval = float(pl_weight), int(g_reg_interval)
        self.pl_batch_shrink, self.pl_decay = int(pl_batch_shrink), float(pl_decay)
        self.style_mixing_prob = float(style_mixing_prob)
        self.ema_kimg, self.ema_rampup, self.w_avg_beta = float(ema_kimg), ema_rampup, float(w_avg_beta)
        self.seed = int(seed)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.register_buffer("pl_mean", torch.zeros([]))  # a: running mean of path lengths
        self.rng = RNGStream(self.seed)
        self._resume_global_rng: dict[str, Any] | None = None
        self._latest: dict[str, Tensor] = {}

    # ------------------------------------------------------------------------------------ setup
    def configure_optimizers(self) -> list[Optimizer]:
        g_interval = self.g_reg_interval if self.pl_weight > 0 else None
        d_interval = self.d_reg_interval if self.r1_gamma is None or self.r1_gamma > 0 else None
        return [build_lazy_optimizer(self.g_optimizer, self.generator.parameters(), g_interval),
                build_lazy_optimizer(self.d_optimizer, self.discriminator.parameters(), d_interval)]

    def setup(self, stage: str) -> None:
        # Each rank draws different latents: the stream seed is offset by the rank (replaced on resume).
        self.rng = RNGStream(self.seed * 1000 + self.global_rank)
        # NHWC convolution weights (and reals): ~20 % faster steps with oneDNN on CPU; values are unchanged.
        self.to(memory_format=self.memory_format)

    def on_fit_start(self) -> None:
        refuse_fp16(self.trainer, "StyleGAN2")

    def on_train_start(self) -> None:
        if self._resume_global_rng is not None:  # before the resumed run's data loader is created
            restore_global_rng(self._resume_global_rng)
            self._resume_global_rng = None

    # -------------------------------------------------------------------------------- training
    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self._images(batch)
        b, step = real.shape[0], self.global_step
        if self.r1_gamma is None:
            self.r1_gamma = r1_gamma_heuristic(self.generator.resolution, b * self.trainer.world_size)
            log.info("R1 weight r1_gamma = %.4g (0.0002·R²/batch, R = %d, global batch %d; set gan.training.r1_gamma "
                     "to choose)", self.r1_gamma, self.generator.resolution, b * self.trainer.world_size)
        opt_g, opt_d = self.optimizers()
        logs: dict[str, Tensor] = {}
        with self.rng.active(self.device):
            self._step(opt_d.optimizer, self.d_main_loss(real), logs)
            if self.r1_gamma > 0 and step % self.d_reg_interval == 0:
                self._step(opt_d.optimizer, self.r1_loss(real), logs)
            with _frozen(self.discriminator):
                self._step(opt_g, self.g_main_loss(b), logs)  # the counted step: global_step += 1
            if self.pl_weight > 0 and step % self.g_reg_interval == 0:
                self._step(opt_g.optimizer, self.pl_loss(b), logs)
        self._update_ema(step, b)
        # Lazy terms are computed every k-th step; log their latest value every step so that any logging
        # interval (trainer.log_every_n_steps) shows them.
        self._latest.update({k: v.detach() for k, v in logs.items()})
        self.log_dict({f"train/{k}": v for k, v in self._latest.items()}, on_step=True, on_epoch=False, batch_size=b)

    def _step(self, opt: Any, phase: tuple[Tensor, dict[str, Tensor]], logs: dict[str, Tensor]) -> None:
        loss, terms = phase
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()
        logs.update(terms)

    def _images(self, batch: Any) -> Tensor:
        img = batch["image"] if isinstance(batch, dict) else batch[0] if isinstance(batch, (list, tuple)) else batch
        g = self.generator
        if img.ndim != 4 or tuple(img.shape[1:]) != (g.img_channels, g.resolution, g.resolution):
            raise ValueError(f"training images must be (B, {g.img_channels}, {g.resolution}, {g.resolution}) to match "
                             f"the generator, got {tuple(img.shape)}: set data.resolution={g.resolution} or pick "
                             "another model preset")
        return img.contiguous(memory_format=self.memory_format)

    def _aug(self, x: Tensor) -> Tensor:
        return self.augment(x) if self.augment is not None else x

    def generate(self, batch_size: int, track_w_avg: bool = False) -> tuple[Tensor, Tensor]:
        """Training-time samples of the *trained* G: (images (B,C,R,R), style-mixed ws (B,num_ws,w_dim))."""
        g = self.generator
        w = g.mapping(torch.randn(batch_size, g.z_dim, device=self.device))
        if track_w_avg:  # w_avg ← lerp(mean w, w_avg, β): the truncation centre of the exported G
            with torch.no_grad():
                g.mapping.w_avg.copy_(w.detach().mean(0).lerp(g.mapping.w_avg, self.w_avg_beta))
        w2 = g.mapping(torch.randn(batch_size, g.z_dim, device=self.device)) if self.style_mixing_prob > 0 else w
        ws = mix_styles(w, w2, g.num_ws, self.style_mixing_prob)
        return g.synthesis(ws, noise_mode="random"), ws

    # Each phase returns (the loss to back-propagate, the terms to log).
    def d_main_loss(self, real: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            fake, _ = self.generate(real.shape[0])
        real_logits = self.discriminator(self._aug(real))
        fake_logits = self.discriminator(self._aug(fake))
        loss_real, loss_fake = d_logistic_loss(real_logits, fake_logits)
        return loss_real.mean() + loss_fake.mean(), {
            "loss_d_real": loss_real.mean(), "loss_d_fake": loss_fake.mean(),
            "score_real": real_logits.mean(), "score_fake": fake_logits.mean()}

    def r1_loss(self, real: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        reals = real.detach().float().requires_grad_(True)
        with autocast_off(reals.device):  # the double backward in fp32 under bf16-mixed
            logits = self.discriminator(self._aug(reals))
            penalty = r1_penalty(logits, reals)
        loss_r1 = penalty.mean() * (self.r1_gamma / 2)
        # `0 * logits`: every D parameter takes part in the graph (the output bias has no R1 gradient).
        return loss_r1 * self.d_reg_interval + 0 * logits.sum(), {"loss_r1": loss_r1, "r1_penalty": penalty.mean()}

    def g_main_loss(self, batch_size: int) -> tuple[Tensor, dict[str, Tensor]]:
        fake, _ = self.generate(batch_size, track_w_avg=True)
        loss_g = g_nonsaturating_loss(self.discriminator(self._aug(fake))).mean()
        return loss_g, {"loss_g": loss_g}

    def pl_loss(self, batch_size: int) -> tuple[Tensor, dict[str, Tensor]]:
        fake, ws = self.generate(max(batch_size // self.pl_batch_shrink, 1))
        lengths = path_lengths(fake, ws)
        pl_mean = self.pl_mean.lerp(lengths.mean(), self.pl_decay)  # a ← a + decay · (mean ‖J_wᵀy‖ − a)
        self.pl_mean.copy_(pl_mean.detach())
        loss_pl = (lengths - pl_mean).square().mean() * self.pl_weight
        return loss_pl * self.g_reg_interval + 0 * fake.sum(), {"loss_pl": loss_pl, "pl_mean": self.pl_mean.clone()}

    def _update_ema(self, step: int, local_batch: int) -> None:
        batch = local_batch * self.trainer.world_size
        beta = ema_beta(batch, self.ema_kimg, step * batch, self.ema_rampup)
        ema_update(self.g_ema, self.generator, beta)

    # ----------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Called on every rank; gather each rank's private stream so a resume continues all of them.
        checkpoint["stylegan2_rng"] = rank_streams_state(self.rng, self.trainer.world_size)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("stylegan2_rng")
        if state is None:
            log.warning("checkpoint has no RNG state: the resumed run will not repeat the original exactly")
            return
        rank = self.global_rank if self._trainer is not None else 0
        self.rng = rank_stream_from_state(state, rank, self.seed)  # more ranks than saved: new ones start fresh
        self._resume_global_rng = state["global"]
