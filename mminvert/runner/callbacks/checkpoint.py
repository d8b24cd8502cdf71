"""Full-state training checkpoints every N steps, at the end of training and when training is stopped
(Ctrl-C, SIGTERM, a SLURM job's pre-timeout signal SIGUSR1 / SIGUSR2), written atomically."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from ...io.atomic import remove_on_failure
from ...io.run_folder import LAST_CHECKPOINT, STEP_CHECKPOINT_GLOB, step_checkpoint_name
from .interrupt import PreemptionRequest, StopRequest, defer_sigint

__all__ = ["StepCheckpoint"]

log = logging.getLogger(__name__)


def _count(name: str, value: object) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"callbacks.checkpoint.{name} must be an integer, got {value!r}") from None


class StepCheckpoint(pl.Callback):
    """Write `<dirpath>/step_<N>.ckpt` every `every_n_steps` steps and `last.ckpt` at each save, at the end
    of training and when training is stopped, for `python train.py ckpt_path=<dirpath>/last.ckpt` (or a
    plain restart in the same run folder, which continues from it).

    Stopping: the first Ctrl-C (SIGINT) lets the current step finish, writes `last.ckpt` and raises
    KeyboardInterrupt; a second Ctrl-C stops at once. SIGTERM (a scheduler's preemption) also writes
    `last.ckpt` at the end of the step before Lightning stops. SIGUSR1 / SIGUSR2 (SLURM's warning before a time
    limit or pre-emption, `--signal`; submitit's `signal_delay_s`) write `last.ckpt`, requeue the SLURM job and
    stop every rank. A Ctrl-C arriving while a file is written is delivered after the write, so it is neither lost
    nor leaves a partial file.

    Under DDP every rank must stop at the same step (the save is collective): the ranks agree on stop requests
    every `stop_check_every_n_steps` steps (one small all-reduce; 1 in a single process, where it costs nothing).

    Why not ModelCheckpoint: with manual optimisation it warns at every save and writes `last.ckpt`
    at the end of training only if none was written before; a resume needs the final state.
    Keeps the newest `keep` step files (all with keep = -1). Files appear complete or not at all; the
    temporary names carry the writer's pid, so two writers never rename each other's partial files.
    """

    def __init__(self, dirpath: str | os.PathLike, every_n_steps: int = 1000, keep: int = 2,
                 save_last: bool = True, stop_check_every_n_steps: int = 10) -> None:
        super().__init__()
        self.dirpath = Path(dirpath)
        self.every_n_steps, self.keep = _count("every_n_steps", every_n_steps), _count("keep", keep)
        self.stop_check_every_n_steps = max(_count("stop_check_every_n_steps", stop_check_every_n_steps), 1)
        self.save_last = bool(save_last)
        self._saved_step = -1
        self._stop = StopRequest()
        self._preempt = PreemptionRequest()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stopping: str | None = None
        self._stop.install()
        self._preempt.install()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps > 0 and step % self.every_n_steps == 0 and step != self._saved_step:
            self._save(trainer, step, periodic=True)
        if self._stopping:
            return
        sigint, sigterm, preempt = self._stop_requests(trainer, step)
        if not (sigint or sigterm or preempt):
            return
        if step != self._saved_step:
            self._save(trainer, step, periodic=False, force_last=True)
        where = self.dirpath / LAST_CHECKPOINT
        if preempt and not sigterm:
            self._stopping = f"SIGUSR{preempt}"
            if trainer.is_global_zero:
                self._preempt.requeue()
            trainer.strategy.barrier("StepCheckpoint.preempted")
        else:
            self._stopping = "SIGTERM" if sigterm else "Ctrl-C"
        log.warning("training stopped by %s at step %d; the full state is in %s: run the same command again "
                    "(the run folder continues from it) or pass ckpt_path=%s", self._stopping, step, where, where)
        # Stop at the next hook rather than here: Lightning logs this step's metrics after this hook.
        trainer.should_stop = True

    def _stop_requests(self, trainer: pl.Trainer, step: int) -> tuple[bool, bool, int]:
        """(Ctrl-C, SIGTERM, 1 or 2 for SIGUSR1 / SIGUSR2 else 0), the same on every rank: in a single process at
        every step, under DDP at every `stop_check_every_n_steps`-th step through one all-reduce (a request on any
        rank stops all of them)."""
        usr = {"SIGUSR1": 1, "SIGUSR2": 2}.get(self._preempt.name, 0)
        flags = [int(self._stop.requested), int(bool(trainer.received_sigterm)), usr]
        if trainer.world_size > 1:
            if step % self.stop_check_every_n_steps:
                return False, False, 0
            total = trainer.strategy.reduce(torch.tensor(flags, device=trainer.strategy.root_device),
                                            reduce_op="max")
            flags = [int(v) for v in total.tolist()]
        return bool(flags[0]), bool(flags[1]), flags[2]

    def _raise_if_stopping(self) -> None:
        """End the run after a stop request: KeyboardInterrupt for Ctrl-C, Lightning's SIGTERM exit for SIGTERM
        and the pre-timeout signals."""
        stopping, self._stopping = getattr(self, "_stopping", None), None
        if stopping:
            self._stop.uninstall()
            self._preempt.uninstall()
        if stopping in ("SIGTERM", "SIGUSR1", "SIGUSR2"):
            raise SIGTERMException
        if stopping:
            raise KeyboardInterrupt

    # The first of these after a stop request ends the run (should_stop would otherwise validate first).
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._raise_if_stopping()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx) -> None:
        self._raise_if_stopping()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._raise_if_stopping()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._raise_if_stopping()
        if trainer.global_step != self._saved_step and not trainer.sanity_checking:
            self._save(trainer, trainer.global_step, periodic=False)
        self._preempt.uninstall()  # the signals' own handlers again (submitit's, Lightning's) after training

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._stopping = None
        self._stop.uninstall()
        self._preempt.uninstall()

    def _save(self, trainer: pl.Trainer, step: int, periodic: bool, force_last: bool = False) -> None:
        targets = [self.dirpath / step_checkpoint_name(step)] if periodic else []
        if self.save_last or force_last:
            targets.append(self.dirpath / LAST_CHECKPOINT)
        if not targets:
            return
        pid = os.getpid()  # the pid of rank 0, which writes: unique among writers of this folder
        tmp = self.dirpath / f".saving_{step:07d}.{pid}.tmp"
        parts = [path.with_name(f".{path.name}.{pid}.tmp") for path in targets[:-1]]
        mine = [tmp, *parts] if trainer.is_global_zero else []  # rank 0 writes them, and removes them if that fails
        # a failed write (a full disk) leaves no partial file, which would keep the disk full
        with defer_sigint(), remove_on_failure(*mine, target=targets[-1]):
            # collective: every rank runs the save hooks, rank 0 writes
            trainer.save_checkpoint(tmp, weights_only=False)
            if trainer.is_global_zero:
                for path, part in zip(targets[:-1], parts):  # the same file under several names: hard link, else copy
                    part.unlink(missing_ok=True)
                    try:
                        os.link(tmp, part)
                    except OSError:
                        shutil.copyfile(tmp, part)
                    os.replace(part, path)
                os.replace(tmp, targets[-1])
                self._prune()
                log.info("step %d: checkpoint %s", step, ", ".join(str(p) for p in targets))
        trainer.strategy.barrier("StepCheckpoint")
        self._saved_step = step

    def _prune(self) -> None:
        if self.keep < 0:
            return
        steps = sorted(self.dirpath.glob(STEP_CHECKPOINT_GLOB))
        for old in steps[: max(len(steps) - self.keep, 0)]:
            old.unlink(missing_ok=True)
