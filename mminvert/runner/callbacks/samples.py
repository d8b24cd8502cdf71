"""Sample grids of G_ema from fixed latents: PNG files in the run directory and images in the loggers."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from ...utils.figures import readable

__all__ = ["SampleGrid", "to_uint8_grid"]

log = logging.getLogger(__name__)


def log_uint8_image(trainer: pl.Trainer, key: str, image: np.ndarray, step: int) -> None:
    """Send an (H, W, 3) uint8 image to every logger that takes images (wandb, TensorBoard)."""
    for logger in trainer.loggers:
        if hasattr(logger, "log_image"):  # WandbLogger
            logger.log_image(key=key, images=[image], step=step)
        elif hasattr(getattr(logger, "experiment", None), "add_image"):  # TensorBoard
            logger.experiment.add_image(key, image, step, dataformats="HWC")


def to_uint8_grid(images: Tensor, nrow: int) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> one (H', W', C) uint8 grid (loggers such as wandb show floats as black)."""
    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=2, pad_value=1.0)
    return ((grid + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


class SampleGrid(pl.Callback):
    """Every `every_n_steps` steps (and at the end), render G_ema(z) for `num_samples` fixed z
    (seeded, the same in every run) with constant noise and ψ = `truncation_psi`.

    Saved as `<dirpath>/step_<N>.png`, enlarged (nearest) to at least 256 px per sample; logged as `samples` to
    wandb / TensorBoard loggers (uint8).
    """

    def __init__(self, dirpath: str | os.PathLike, every_n_steps: int = 500, num_samples: int = 16,
                 seed: int = 0, truncation_psi: float = 1.0) -> None:
        super().__init__()
        self.dirpath = Path(dirpath)
        self.every_n_steps, self.num_samples = int(every_n_steps), int(num_samples)
        self.seed, self.truncation_psi = int(seed), float(truncation_psi)
        self._last_step = -1

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        if self.every_n_steps > 0 and trainer.global_step % self.every_n_steps == 0:
            self.log_samples(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.log_samples(trainer, pl_module)

    @torch.no_grad()
    def render(self, pl_module: pl.LightningModule) -> Tensor:
        g = pl_module.g_ema
        z = torch.randn(self.num_samples, g.z_dim, generator=torch.Generator().manual_seed(self.seed))
        return g(z.to(pl_module.device), truncation_psi=self.truncation_psi, noise_mode="const")

    def log_samples(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = trainer.global_step
        if not trainer.is_global_zero or step == self._last_step:
            return
        self._last_step = step
        images = self.render(pl_module)
        grid = to_uint8_grid(images, nrow=int(np.ceil(np.sqrt(self.num_samples))))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        Image.fromarray(readable(grid, images.shape[-1])).save(self.dirpath / f"step_{step:07d}.png")
        log_uint8_image(trainer, "samples", grid, step)
