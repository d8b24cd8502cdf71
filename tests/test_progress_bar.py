"""The step progress bar counts optimiser steps toward max_steps (Lightning's reads "Epoch 0/-2")."""
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from mminvert.training.callbacks import StepProgressBar


class _Linear(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(bar: StepProgressBar, tmp_path, **trainer_kwargs) -> dict:
    data = DataLoader(TensorDataset(torch.randn(40, 2)), batch_size=4)  # 10 batches per epoch
    trainer = pl.Trainer(callbacks=[bar], logger=pl.loggers.CSVLogger(tmp_path), enable_checkpointing=False, enable_model_summary=False,
                         accelerator="cpu", **trainer_kwargs)
    trainer.fit(_Linear(), data)
    assert "v_num" not in bar.get_metrics(trainer, trainer.lightning_module)
    task = bar.progress.tasks[-1]
    return {"total": task.total, "completed": task.completed, "description": task.description.strip()}


def test_step_based_runs_count_steps_across_epochs(tmp_path):
    got = _fit(StepProgressBar(), tmp_path, max_steps=25)  # 2.5 epochs
    assert got == {"total": 25, "completed": 25, "description": "Training"}


def test_epoch_based_runs_keep_lightnings_epoch_bar(tmp_path):
    got = _fit(StepProgressBar(), tmp_path, max_epochs=2)
    assert got["total"] == 10 and got["completed"] == 10 and got["description"].startswith("Epoch 1/1")
