"""Training progress: a rich bar on a terminal, plain progress lines in logs (`make train > log`, SLURM).

Lightning's bar counts batches of the current epoch and labels it "Epoch e/max_epochs-1", which reads
"Epoch 0/-2" and a data-set-sized total when training is bounded by `max_steps` (as all our tasks are).
With `max_steps > 0` this bar shows "Training" with `global_step / max_steps`, also after a resume.
The logger's version number (`v_num`, printed as "0.000") is left out of the metrics it shows.

A rich bar draws nothing useful into a file, so when stdout is not a terminal the bar logs lines
instead (logger `mminvert.runner.callbacks.progress`, INFO; Hydra sends them to the console and to
`train.log`):

    step 125/500 (25%) | 0.842 s/step | elapsed 1:52 | ETA 5:46 | loss 0.4123
    validation 8/32 (25%) | 0.161 s/batch | ETA 0:04
    validation at step 250: 5.1 s | val/l1_hole 0.1040 | val/psnr 20.60 | ...

s/step counts training time only (validation excluded); the ETA adds the remaining validation passes
at the duration of the last one.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichProgressBar

from ...utils.durations import format_duration

__all__ = ["StepProgressBar", "format_duration", "remaining_validations"]

log = logging.getLogger(__name__)
MODES = ("auto", "rich", "lines")


def remaining_validations(trainer: pl.Trainer, step: int) -> int:
    """Validation passes a step-based fit still runs after `step` (every `val_check_interval` training
    batches, or a fraction of an epoch of them); 0 when validation is off or the interval is unknown."""
    if not trainer.max_steps or trainer.max_steps <= 0 or trainer.limit_val_batches == 0:
        return 0
    interval = trainer.val_check_interval
    if isinstance(interval, float):
        interval = interval * trainer.num_training_batches
        if not math.isfinite(interval):
            return 0
    interval = int(interval)
    if interval <= 0:
        return 0
    return max(trainer.max_steps // interval - step // interval, 0)


class StepProgressBar(RichProgressBar):
    """RichProgressBar over optimiser steps when `trainer.max_steps > 0`; epochs otherwise.

    `mode`: "rich" (the bar), "lines" (progress lines every `every_n_steps` training steps and every
    `val_every_percent` % of a validation pass) or "auto" (lines when stdout is not a terminal).
    `every_n_steps=None`: 5 % of `max_steps`, between 1 and 100 steps.
    """

    def __init__(self, mode: str = "auto", every_n_steps: int | None = None, val_every_percent: int = 25,
                 **rich_kwargs: Any) -> None:
        super().__init__(**rich_kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1 (or null for 5 % of max_steps), got {every_n_steps}")
        if not 1 <= val_every_percent <= 100:
            raise ValueError(f"val_every_percent must lie in [1, 100], got {val_every_percent}")
        self.mode = mode
        self.every_n_steps, self.val_every_percent = every_n_steps, int(val_every_percent)
        self.lines = mode == "lines" or (mode == "auto" and not _stdout_is_terminal())
        if self.lines:
            self.disable()  # the rich parts stay silent; the hooks below write lines
        self._train_s = 0.0               # training time of this fit, validation excluded
        self._resumed_at: float | None = None
        self._first_step = 0
        self._last_line = (0.0, 0)        # (training time, step) at the previous line
        self._val_start = 0.0
        self._val_total = 0
        self._val_next_percent = 0
        self._last_val_s = float("nan")
        self._fit_started: float | None = None  # wall clock of this fit's start (elapsed includes validation)

    def _step_based(self) -> bool:
        return self.trainer.max_steps is not None and self.trainer.max_steps > 0

    # ------------------------------------------------------------------------------- rich bar
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

    # ------------------------------------------------------------------------- training lines
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._train_s, self._resumed_at = 0.0, time.perf_counter()
        self._first_step = trainer.global_step
        self._last_line = (0.0, trainer.global_step)

    def _training_time(self) -> float:
        return self._train_s + (time.perf_counter() - self._resumed_at if self._resumed_at is not None else 0.0)

    def _line_interval(self, trainer: pl.Trainer) -> int:
        if self.every_n_steps is not None:
            return self.every_n_steps
        if not self._step_based():
            return max(1, min(100, trainer.num_training_batches // 20 if math.isfinite(trainer.num_training_batches)
                              else 50))
        return max(1, min(100, trainer.max_steps // 20))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.lines:
            if trainer.is_global_zero:
                step = trainer.global_step
                if step % self._line_interval(trainer) == 0 or step == trainer.max_steps:
                    log.info(self.train_line(trainer, step))
            return
        if not self._step_based():
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def train_line(self, trainer: pl.Trainer, step: int) -> str:
        """'step 125/500 (25%) | 0.842 s/step | elapsed 1:52 | ETA 5:46 | loss 0.4123'."""
        now = self._training_time()
        prev_t, prev_step = self._last_line
        self._last_line = (now, step)
        recent = (now - prev_t) / (step - prev_step) if step > prev_step else float("nan")
        done = step - self._first_step
        mean = now / done if done > 0 else float("nan")
        if self._step_based():
            total = trainer.max_steps
            eta = (total - step) * mean + remaining_validations(trainer, step) * _or0(self._last_val_s)
            parts = [f"step {step}/{total} ({100 * step // total}%)"]
        else:
            eta = float("nan")
            parts = [f"epoch {trainer.current_epoch} step {step}"]
        rate = f"{recent:.3f} s/step" if not math.isfinite(recent) or recent >= 0.1 else f"{1 / recent:.1f} it/s"
        elapsed = time.perf_counter() - self._fit_started if self._fit_started is not None else now
        parts += [rate, f"elapsed {format_duration(elapsed)}",
                  f"ETA {format_duration(eta)}"]
        loss = _latest_loss(trainer)
        if loss is not None:
            parts.append(f"loss {loss:.4g}")
        return " | ".join(parts)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        self._fit_started = time.perf_counter()

    # ----------------------------------------------------------------------- validation lines
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_start(trainer, pl_module)
        if self._resumed_at is not None:  # pause the training clock
            self._train_s += time.perf_counter() - self._resumed_at
            self._resumed_at = None
        self._val_start = time.perf_counter()
        self._val_total = int(sum(trainer.num_sanity_val_batches if trainer.sanity_checking
                                  else trainer.num_val_batches))
        self._val_next_percent = self.val_every_percent

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if not self.lines:
            return super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
        if trainer.sanity_checking or not trainer.is_global_zero or self._val_total <= 0:
            return
        done = batch_idx + 1
        percent = 100 * done // self._val_total
        if percent < self._val_next_percent and done < self._val_total:
            return
        while self._val_next_percent <= percent:
            self._val_next_percent += self.val_every_percent
        per_batch = (time.perf_counter() - self._val_start) / done
        log.info(f"validation {done}/{self._val_total} ({percent}%) | {per_batch:.3f} s/batch | "
                 f"ETA {format_duration((self._val_total - done) * per_batch)}")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        seconds = time.perf_counter() - self._val_start
        if trainer.sanity_checking:
            return
        self._last_val_s = seconds
        if trainer.state.fn == "fit":
            self._resumed_at = time.perf_counter()
        if self.lines and trainer.is_global_zero:
            metrics = {k: float(v) for k, v in sorted(trainer.callback_metrics.items())
                       if k.startswith("val/") and getattr(v, "numel", lambda: 1)() == 1}
            log.info(" | ".join([f"validation at step {trainer.global_step}: {seconds:.1f} s",
                                 *(f"{k} {v:.4g}" for k, v in metrics.items())]))


def _or0(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _latest_loss(trainer: pl.Trainer) -> float | None:
    """The most recent training loss the module logged (`train/loss`, else the first `*loss*` metric)."""
    metrics = trainer.progress_bar_metrics or {}
    keys = [k for k in ("train/loss", "loss", "train_loss") if k in metrics]
    keys = keys or [k for k in metrics if "loss" in k]
    if not keys:
        return None
    value = metrics[keys[0]]
    return float(value.item() if hasattr(value, "item") else value)


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
