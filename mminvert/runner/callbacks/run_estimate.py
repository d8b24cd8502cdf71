"""What the job runs on and how long it will take: logged at the start and after a few measured steps.

    machine: AMD EPYC 7B13, 2 torch threads, fp32 GEMM 182 GFLOP/s (512x512 matmul probe, 0.3 s)
    measured 0.842 s/step over steps 3-8; expected run time 7:41 (elapsed 0:24 + 492 steps x 0.842 s
        + 2 validation passes x 11.3 s), expected end 18:52:10 UTC
    run time 7:38 wall, 14:50 process CPU (all threads); the estimate was 7:41 (+0.7 %)

The estimate is measured, not modelled: the training steps after `skip_steps` warm-up steps (oneDNN
primitive caches, allocator) are timed by wall clock between batch ends (data loading included,
validation excluded), and the validation passes by the last one that ran (the step-0 validation of
the inpainting task, else the sanity check scaled to the full pass). Elapsed time counts from the
process start (imports and model building included) where /proc says when that was.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import pytorch_lightning as pl
import torch

from ...utils.machine import cpu_model, gemm_gflops, process_age_s
from .progress import format_duration, remaining_validations

__all__ = ["RunEstimate", "expected_run_time"]

log = logging.getLogger(__name__)


def expected_run_time(elapsed_s: float, remaining_steps: int, step_s: float, remaining_validations: int,
                      validation_s: float) -> float:
    """Seconds from the job's start to its end: what has passed, plus the remaining training steps and
    validation passes at their measured durations."""
    return elapsed_s + max(remaining_steps, 0) * step_s + max(remaining_validations, 0) * validation_s


class RunEstimate(pl.Callback):
    """Logs the machine (CPU model, torch threads, a measured fp32 GEMM rate; the GPU when training on one)
    once at setup, then, after `measure_steps` timed training steps, the measured s/step and the expected
    duration and end time of the run; at the end of training the actual duration against the estimate."""

    def __init__(self, skip_steps: int = 2, measure_steps: int = 5, gemm_budget_s: float = 0.3) -> None:
        super().__init__()
        if skip_steps < 0 or measure_steps < 1:
            raise ValueError(f"need skip_steps >= 0 and measure_steps >= 1, got {skip_steps}, {measure_steps}")
        self.skip_steps, self.measure_steps, self.gemm_budget_s = int(skip_steps), int(measure_steps), gemm_budget_s
        self.gemm: float | None = None
        self.step_s: float | None = None
        self.estimate_s: float | None = None
        self._t0 = time.perf_counter() - (process_age_s() or 0.0)  # the job's start on this clock
        self._announced = False
        self._val_s: float | None = None        # duration of the last full validation pass
        self._val_batch_s: float | None = None  # per batch, from the sanity check
        self._val_started = 0.0
        self._val_in_window = 0.0              # validation time inside the step-timing window
        self._window: tuple[int, float] | None = None  # (step, time) where timing started
        self._fit_steps = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    # -------------------------------------------------------------------------------- machine
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._announced or not trainer.is_global_zero:
            return
        self._announced = True
        self.gemm = gemm_gflops(budget_s=self.gemm_budget_s)
        device = pl_module.device if pl_module.device.type != "cpu" else trainer.strategy.root_device
        gpu = f"; training on {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
        log.info(f"machine: {cpu_model()}, {torch.get_num_threads()} torch threads, fp32 GEMM {self.gemm:.3g} "
                 f"GFLOP/s (512x512 matmul probe, {self.gemm_budget_s:g} s){gpu}")

    # ----------------------------------------------------------------------------- validation
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._val_started = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = time.perf_counter() - self._val_started
        if self._window is not None:
            self._val_in_window += seconds
        if trainer.sanity_checking:
            batches = sum(trainer.num_sanity_val_batches)
            if batches:
                self._val_batch_s = seconds / batches
        else:
            self._val_s = seconds

    def _validation_pass_s(self, trainer: pl.Trainer) -> float:
        if self._val_s is not None:
            return self._val_s
        if self._val_batch_s is not None:
            return self._val_batch_s * sum(trainer.num_val_batches)
        return 0.0

    # ------------------------------------------------------------------------------- training
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_steps, self.step_s, self._val_in_window = 0, None, 0.0
        self._window = (trainer.global_step, time.perf_counter()) if self.skip_steps == 0 else None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not trainer.is_global_zero or self.step_s is not None:
            return
        self._fit_steps += 1
        step, now = trainer.global_step, time.perf_counter()
        if self._window is None:
            if self._fit_steps == self.skip_steps:
                self._window, self._val_in_window = (step, now), 0.0
            return
        if step - self._window[0] < self.measure_steps:
            return
        first, start = self._window
        self.step_s = (now - start - self._val_in_window) / (step - first)
        if not trainer.max_steps or trainer.max_steps <= 0:
            log.info(f"measured {self.step_s:.3f} s/step over steps {first + 1}-{step}")
            return
        n_val, val_s = remaining_validations(trainer, step), self._validation_pass_s(trainer)
        elapsed = self.elapsed()
        self.estimate_s = expected_run_time(elapsed, trainer.max_steps - step, self.step_s, n_val, val_s)
        end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.estimate_s - elapsed)
        log.info(f"measured {self.step_s:.3f} s/step over steps {first + 1}-{step}; expected run time "
                 f"{format_duration(self.estimate_s)} (elapsed {format_duration(elapsed)} + "
                 f"{trainer.max_steps - step} steps x {self.step_s:.3f} s + {n_val} validation passes x "
                 f"{val_s:.1f} s), expected end {end:%H:%M:%S} UTC")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        took, cpu = self.elapsed(), time.process_time()
        line = f"run time {format_duration(took)} wall, {format_duration(cpu)} process CPU (all threads)"
        if self.estimate_s:
            error = 100 * (self.estimate_s - took) / took
            line += f"; the estimate was {format_duration(self.estimate_s)} ({error:+.1f} %)"
        log.info(line)
