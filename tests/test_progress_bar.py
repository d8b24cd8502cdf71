"""The step progress bar counts optimiser steps toward max_steps (Lightning's reads "Epoch 0/-2"); without a
terminal it logs progress lines instead; the run-time estimate and the GEMM probe give consistent figures."""
import logging
import re

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from mminvert.runner.callbacks import RunEstimate, StepProgressBar
from mminvert.runner.callbacks.progress import format_duration
from mminvert.runner.callbacks.run_estimate import expected_run_time
from mminvert.utils.machine import cpu_model, gemm_gflops


class _Linear(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/l1_hole", self.layer(batch[0]).abs().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(bar: StepProgressBar, tmp_path, **trainer_kwargs) -> dict:
    data = DataLoader(TensorDataset(torch.randn(40, 2)), batch_size=4)  # 10 batches per epoch
    trainer = pl.Trainer(callbacks=[bar], logger=pl.loggers.CSVLogger(tmp_path), enable_checkpointing=False,
                         enable_model_summary=False, accelerator="cpu", **trainer_kwargs)
    trainer.fit(_Linear(), data)
    assert "v_num" not in bar.get_metrics(trainer, trainer.lightning_module)
    task = bar.progress.tasks[-1]
    return {"total": task.total, "completed": task.completed, "description": task.description.strip()}


def test_step_based_runs_count_steps_across_epochs(tmp_path):
    got = _fit(StepProgressBar(mode="rich"), tmp_path, max_steps=25)  # 2.5 epochs
    assert got == {"total": 25, "completed": 25, "description": "Training"}


def test_epoch_based_runs_keep_lightnings_epoch_bar(tmp_path):
    got = _fit(StepProgressBar(mode="rich"), tmp_path, max_epochs=2)
    assert got["total"] == 10 and got["completed"] == 10 and got["description"].startswith("Epoch 1/1")


def _fit_with_validation(callbacks, tmp_path, **trainer_kwargs) -> pl.Trainer:
    data = DataLoader(TensorDataset(torch.randn(40, 2)), batch_size=4)  # 10 batches per epoch
    val = DataLoader(TensorDataset(torch.randn(32, 2)), batch_size=4)  # 8 validation batches
    trainer = pl.Trainer(callbacks=callbacks, logger=pl.loggers.CSVLogger(tmp_path), enable_checkpointing=False,
                         enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0, **trainer_kwargs)
    trainer.fit(_Linear(), data, val)
    return trainer


STEP_LINE = re.compile(r"^step (\d+)/20 \((\d+)%\) \| (\d+\.\d{3} s/step|\d+\.\d it/s) \| elapsed \d+:\d\d \| "
                       r"ETA \d+:\d\d \| loss \S+$")


def test_without_a_terminal_progress_is_logged_as_lines(tmp_path, caplog):
    bar = StepProgressBar(mode="lines", every_n_steps=5, val_every_percent=50)
    with caplog.at_level(logging.INFO, logger="mminvert.runner.callbacks.progress"):
        _fit_with_validation([bar], tmp_path, max_steps=20, val_check_interval=10, check_val_every_n_epoch=None)
    lines = [r.getMessage() for r in caplog.records if r.name == "mminvert.runner.callbacks.progress"]
    steps = [m for m in map(STEP_LINE.match, lines) if m]
    assert [int(m[1]) for m in steps] == [5, 10, 15, 20]
    assert [int(m[2]) for m in steps] == [25, 50, 75, 100]
    assert steps[-1][0].split("ETA ")[1].startswith("0:00")  # nothing left at the last step
    val = [m for m in lines if m.startswith("validation ") and "s/batch" in m]
    assert [m.split(" |")[0] for m in val] == ["validation 4/8 (50%)", "validation 8/8 (100%)"] * 2
    done = [m for m in lines if m.startswith("validation at step")]
    assert [m.split(":")[0] for m in done] == ["validation at step 10", "validation at step 20"]
    assert all("val/l1_hole" in m for m in done)
    assert bar.progress is None  # the rich bar drew nothing


def test_auto_mode_uses_lines_when_stdout_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert StepProgressBar().lines
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert not StepProgressBar().lines
    with pytest.raises(ValueError, match="mode"):
        StepProgressBar(mode="bars")


def test_format_duration():
    assert [format_duration(s) for s in (0, 65, 3725, float("nan"))] == ["0:00", "1:05", "1:02:05", "?"]


def test_gemm_probe_measures_a_positive_rate_and_names_the_cpu():
    state = torch.random.get_rng_state()
    assert gemm_gflops(n=128, budget_s=0.05) > 0
    assert torch.equal(torch.random.get_rng_state(), state)  # the training's random stream is not shifted
    assert isinstance(cpu_model(), str) and cpu_model()


def test_run_estimate_is_consistent_with_the_measured_step_time(tmp_path, caplog):
    est = RunEstimate(skip_steps=2, measure_steps=5, gemm_budget_s=0.05)
    with caplog.at_level(logging.INFO, logger="mminvert.runner.callbacks.run_estimate"):
        trainer = _fit_with_validation([est], tmp_path, max_steps=20, val_check_interval=10,
                                       check_val_every_n_epoch=None, enable_progress_bar=False)
    text = caplog.text
    assert est.gemm > 0 and "GFLOP/s" in text and cpu_model() in text
    assert est.step_s > 0 and est.estimate_s > 0
    m = re.search(r"measured (\S+) s/step over steps 3-7; expected run time \S+ \(elapsed \S+ \+ "
                  r"(\d+) steps x \S+ s \+ (\d+) validation passes x (\S+) s\)", text)
    assert m, text
    assert int(m[2]) == 13 and int(m[3]) == 2  # 20 - 7 steps left; validations at steps 10 and 20
    assert "run time" in text and "process CPU" in text and "the estimate was" in text
    assert trainer.global_step == 20


def test_expected_run_time_adds_the_remaining_work():
    assert expected_run_time(10.0, 100, 0.5, 2, 4.0) == pytest.approx(10 + 50 + 8)
    assert expected_run_time(10.0, -3, 0.5, 0, 4.0) == 10.0
