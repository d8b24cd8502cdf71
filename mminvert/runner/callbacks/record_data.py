"""Checkpoints name the data set they were trained on: `evaluate.py ckpt=RUN` scores its test split."""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from ...data.run_data import data_record, preset_name
from ...io.formats import DATA_RECORD_KEY

__all__ = ["RecordDataSet"]


class RecordDataSet(pl.Callback):
    """Store the data record in every checkpoint the trainer saves (the class names of the built DataModule)."""

    def __init__(self, data_cfg: DictConfig, name: str | None = None) -> None:
        self.data_cfg, self.name = data_cfg, name if name is not None else preset_name()

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        names = getattr(trainer.datamodule, "class_names", None) if trainer.datamodule is not None else None
        checkpoint[DATA_RECORD_KEY] = data_record(self.data_cfg, self.name, names)
