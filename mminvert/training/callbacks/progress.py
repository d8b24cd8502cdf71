"""Rich progress bar that counts training steps toward `trainer.max_steps` in step-based runs.

Lightning's bar counts batches of the current epoch and labels it "Epoch e/max_epochs-1", which reads
"Epoch 0/-2" and a data-set-sized total when training is bounded by `max_steps` (as all our tasks are).
With `max_steps > 0` this bar shows "Training" with `global_step / max_steps`, also after a resume.
The logger's version number (`v_num`, printed as "0.000") is left out of the metrics it shows.
"""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichProgressBar

__all__ = ["StepProgressBar"]


class StepProgressBar(RichProgressBar):
    """RichProgressBar over optimiser steps when `trainer.max_steps > 0`; epochs otherwise."""

    def _step_based(self) -> bool:
        return self.trainer.max_steps is not None and self.trainer.max_steps > 0

    @property
    def total_train_batches(self) -> int | float:
        return self.trainer.max_steps if self._step_based() else super().total_train_batches

    def _get_train_description(self, current_epoch: int) -> str:
        if not self._step_based():
            return super()._get_train_description(current_epoch)
        return f"{'Training':{len(self.validation_description)}}"

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if self._step_based():
            self._update(self.train_progress_bar_id, trainer.global_step)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self._step_based():
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()
