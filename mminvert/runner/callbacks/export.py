"""Export the EMA generator in mminvert's format (and optionally rosinality's) beside the checkpoints."""
from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from ...io import export_rosinality, save_stylegan2

__all__ = ["ExportGenerator"]

log = logging.getLogger(__name__)


class ExportGenerator(pl.Callback):
    """Write `<dirpath>/<filename>` (G_ema, optionally D) whenever a training checkpoint is saved and at
    the end of training; `mminvert.load_generator` reads it. Writes are atomic (temporary file + rename).

    `rosinality`: also write `<stem>_rosinality.pt` (needs z_dim == w_dim).
    """

    def __init__(self, dirpath: str | os.PathLike, filename: str = "generator.pt", rosinality: bool = False,
                 include_discriminator: bool = True) -> None:
        super().__init__()
        self.path = Path(dirpath) / filename
        self.rosinality, self.include_discriminator = bool(rosinality), bool(include_discriminator)
        self._exported_step = -1

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        self.export(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.export(trainer, pl_module)

    def export(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.global_step == self._exported_step:
            return
        step = trainer.global_step
        # Plain NCHW copies: training may hold weights channels-last; files should not depend on it.
        g = copy.deepcopy(pl_module.g_ema).to(memory_format=torch.contiguous_format)
        d = copy.deepcopy(pl_module.discriminator).to(memory_format=torch.contiguous_format) \
            if self.include_discriminator else None
        save_stylegan2(self.path, g, d, step=step, source="mminvert.tasks.StyleGAN2Module")
        if self.rosinality:
            export_rosinality(self.path.with_name(f"{self.path.stem}_rosinality.pt"), g, d)
        self._exported_step = step
        log.info("step %d: exported the EMA generator to %s", step, self.path)
