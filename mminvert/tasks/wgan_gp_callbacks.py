"""Side effects of WGAN-GP training: export of G + critic beside the checkpoints, sample grids."""
from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image

from ..baselines.wgan_gp.files import save_wgan_gp
from ..runner.callbacks import log_uint8_image, to_uint8_grid

__all__ = ["ExportWGANGP", "WGANGPSamples"]

log = logging.getLogger(__name__)


class ExportWGANGP(pl.Callback):
    """Write `<dirpath>/<filename>` (`load_wgan_gp` reads it) at every checkpoint save and at the end."""

    def __init__(self, dirpath: str | os.PathLike, filename: str = "wgan_gp.pt") -> None:
        super().__init__()
        self.path = Path(dirpath) / filename
        self._step = -1

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        self.export(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.export(trainer, pl_module)

    def export(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.global_step == self._step:
            return
        self._step = trainer.global_step
        save_wgan_gp(self.path, pl_module.generator, pl_module.critic, step=self._step)
        log.info("step %d: exported the WGAN-GP to %s", self._step, self.path)


class WGANGPSamples(pl.Callback):
    """Every `every_n_steps` steps and at the end: G(z) for fixed seeded z, in eval mode (batch-norm running
    statistics, not updated), saved as `<dirpath>/step_<N>.png` and sent to image loggers."""

    def __init__(self, dirpath: str | os.PathLike, every_n_steps: int = 500, num_samples: int = 16, seed: int = 0) -> None:
        super().__init__()
        self.dirpath, self.every_n_steps = Path(dirpath), int(every_n_steps)
        self.num_samples, self.seed = int(num_samples), int(seed)
        self._last = -1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every_n_steps > 0 and trainer.global_step % self.every_n_steps == 0:
            self.save(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.save(trainer, pl_module)

    @torch.no_grad()
    def save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = trainer.global_step
        if not trainer.is_global_zero or step == self._last:
            return
        self._last = step
        g = copy.deepcopy(pl_module.generator).eval()
        z = torch.randn(self.num_samples, g.z_dim, generator=torch.Generator().manual_seed(self.seed))
        grid = to_uint8_grid(g(z.to(pl_module.device)), nrow=int(np.ceil(np.sqrt(self.num_samples))))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(self.dirpath / f"step_{step:07d}.png")
        log_uint8_image(trainer, "samples", grid, step)
