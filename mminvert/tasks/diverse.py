"""Training of DiverseInversion as a LightningModule (task=diverse): generated data, two paths per step.

One training step (manual optimisation), all randomness from a private per-rank stream (exact resume, DDP-safe):
  1. generated data: z_g ~ N(0, I), I_g = G(Ma(z_g)) (frozen G, no gradients), a training mask M per image;
  2. W^enc = E(I_g ⊙ M, M); path (a) mixes it with Ma(z_g) -> I_g^o, path (b) with Ma(z_r) for a fresh z_r -> I_r^o;
  3. L = λ_rg·L_rg + λ_rr·L_rr + λ_adv·L_adv (losses.py) -> step of E + mixing network (stage 1) or of the skip
     encoder S (stage 2);
  4. the discriminator's step on the composites I_g^f, I_r^f against the real I_g.
With `data_source: real` the batch's real image and mask replace I_g and M and the step has one path (random z).
Validation (when real validation data is configured): PSNR / SSIM / hole L1 of one fill per image (z from a
generator seeded by the batch index) and the mean hole L1 between two fills (`val/diversity_l1`, in [0, 1]
units like `val/l1_hole`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer

from ..data.masks import MaskGenerator
from ..diverse.losses import DiverseLoss
from ..diverse.model import DiverseInversion
from ..io.formats import ARCHITECTURE_KEY
from ..metrics.diversity import hole_l1_diversity
from ..runner.encoder_step import EncoderDiscriminatorModule
from ..utils.rng import RNGStream, rank_streams_state, resume_rank_stream

__all__ = ["DiverseModule", "DATA_SOURCES"]

log = logging.getLogger(__name__)
DATA_SOURCES = ("generated", "real")


class DiverseModule(EncoderDiscriminatorModule):
    """`task=diverse`. `model`, `loss` and `mask_generator` are built parts; optimisers and the scheduler are partials."""

    task_name = "diverse"

    def __init__(self, model: DiverseInversion, loss: DiverseLoss, optimizer: Callable[..., Optimizer],
                 mask_generator: MaskGenerator | None = None, d_optimizer: Callable[..., Optimizer] | None = None,
                 scheduler: Callable[..., Any] | None = None, grad_clip: float | None = None,
                 data_source: str = "generated", val_metrics: Sequence[str] = ("psnr", "ssim", "l1_hole"),
                 seed: int = 0) -> None:
        if data_source not in DATA_SOURCES:
            raise ValueError(f"data_source must be one of {DATA_SOURCES}, got {data_source!r}")
        if data_source == "generated" and mask_generator is None:
            raise ValueError("training on generated data needs a mask_generator")
        super().__init__(model, loss, optimizer, d_optimizer, scheduler, grad_clip, val_metrics)
        self.mask_generator, self.data_source, self.seed = mask_generator, data_source, int(seed)
        self.rng = RNGStream(self.seed)
        self._diversity: list[Tensor] = []

    def setup(self, stage: str) -> None:
        # Each rank draws its own data: the stream seed is offset by the rank (replaced on resume, which comes later).
        self.rng = RNGStream(self.seed * 1000 + self.global_rank)

    def on_train_start(self) -> None:
        self.restore_resumed_rng()

    # ------------------------------------------------------------------------------- generated data
    @torch.no_grad()
    def generate(self, batch_size: int) -> dict[str, Tensor]:
        """z_g (B, z_dim), I_g = G(Ma(z_g)) (B, 3, R, R) and training masks M (B, 1, R, R), from the global RNG
        (the private stream inside a training step)."""
        g = self.model.generator
        z_g = torch.randn(batch_size, g.z_dim, device=self.device)
        image = g.synthesis(self.model.map_z(z_g), noise_mode=self.model.train_noise_mode)  # [paper:diverse-I_g] G(Ma(z_g))
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        R = g.resolution
        mask = np.stack([self.mask_generator(rng, R, R) for _ in range(batch_size)])[:, None]
        return {"z": z_g, "image": image, "mask": torch.from_numpy(mask).to(self.device, torch.float32)}

    def two_paths(self, image: Tensor, mask: Tensor, z_g: Tensor, z_r: Tensor) -> tuple[dict, dict]:
        """Path (a): W^enc mixed with Ma(z_g); path (b): with Ma(z_r). W^enc is computed once."""
        m = self.model
        with torch.set_grad_enabled(torch.is_grad_enabled() and m.stage == 1):
            w_enc = m.encode(image, mask)
        out_a = m.decode(image, mask, w_enc, m.map_z(z_g))  # [paper:diverse-path-a] I_g^o
        out_b = m.decode(image, mask, w_enc, m.map_z(z_r))  # [paper:diverse-path-b] I_r^o
        return out_a, out_b

    # -------------------------------------------------------------------------------- training
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        opt_e, opt_d = self.encoder_and_discriminator_optimizers()
        with self.rng.active(self.device):
            if self.data_source == "generated":
                data = self.generate(int(batch["index"].shape[0]))
                real, mask = data["image"], data["mask"]
                z_r = torch.randn_like(data["z"])
                out_a, out_b = self.two_paths(real, mask, data["z"], z_r)
                losses = self.loss(out_a, out_b, real, mask)
                fakes = [out_a["composite"], out_b["composite"]]
            else:
                real, mask = batch["image"], batch["mask"]
                out = self.model({"image": real, "mask": mask}, z=torch.randn(real.shape[0], self.model.generator.z_dim,
                                                                              device=self.device))
                losses = self.loss.real_data(out, real)
                fakes = [out["composite"]]
            self.encoder_step(opt_e, losses["total"])
            logs = {f"train/loss_{k}": v.detach() for k, v in losses.items()}
            adv = self.loss.adversarial
            if adv is not None and opt_d is not None:
                d_losses = adv.discriminator_loss(real, fakes, self.global_step)
                self.discriminator_step(opt_d, d_losses)
                logs.update({f"train/loss_{k}": v.detach() for k, v in d_losses.items()})
        self.end_training_step(logs, losses["total"], real.shape[0])

    # ------------------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        self.reset_val_metrics()
        self._diversity = []

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        fills = self.model.sample(batch, num_samples=2, seed=batch_idx)
        self._metrics.update(fills["composite"][:, 0].float(), batch["image"], batch["mask"])
        self._diversity.append(hole_l1_diversity(fills["composite"].float(), batch["mask"]).float().cpu())
        if batch_idx == 0:
            self.val_examples = {"batch": {k: v.detach().cpu() for k, v in batch.items() if torch.is_tensor(v)},
                                 "fills": fills["composite"].detach().cpu()}

    def on_validation_epoch_end(self) -> None:
        if self._metrics is None:
            return
        self._metrics.merge_ranks()  # DDP: the whole validation set, the same on every rank
        diversity = torch.cat(self._diversity) if self._diversity else torch.zeros(0)
        total = torch.tensor([float(diversity.double().sum()), float(diversity.numel())], dtype=torch.float64)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            total = self.trainer.strategy.reduce(total.to(self.device), reduce_op="sum").cpu()
        if self._metrics.count == 0:
            return
        values = {f"val/{k}": float(v) for k, v in self._metrics.compute().items()}
        values["val/diversity_l1"] = float(total[0] / total[1])
        self.log_dict(values, prog_bar=True)

    # ---------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[ARCHITECTURE_KEY] = self.model.architecture()
        checkpoint["diverse_rng"] = rank_streams_state(self.rng, self.trainer.world_size)  # every rank's stream

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rank = self.global_rank if self._trainer is not None else 0
        resumed = resume_rank_stream(checkpoint, "diverse_rng", rank, self.seed)
        if resumed is not None:
            self.rng, self._resume_global_rng = resumed
