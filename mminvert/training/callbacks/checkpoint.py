"""Full-state training checkpoints every N steps and at the end of training, written atomically."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytorch_lightning as pl

__all__ = ["StepCheckpoint"]

log = logging.getLogger(__name__)


class StepCheckpoint(pl.Callback):
    """Write `<dirpath>/step_<N>.ckpt` every `every_n_steps` steps and `last.ckpt` at each save and at
    the end of training, for `python train.py ckpt_path=<dirpath>/last.ckpt`.

    Why not ModelCheckpoint: with manual optimisation it warns at every save and writes `last.ckpt`
    at the end of training only if none was written before; a resume needs the final state.
    Keeps the newest `keep` step files (all with keep = -1). Files appear complete or not at all.
    """

    def __init__(self, dirpath: str | os.PathLike, every_n_steps: int = 1000, keep: int = 2,
                 save_last: bool = True) -> None:
        super().__init__()
        self.dirpath = Path(dirpath)
        self.every_n_steps, self.keep, self.save_last = int(every_n_steps), int(keep), bool(save_last)
        self._saved_step = -1

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps > 0 and step % self.every_n_steps == 0 and step != self._saved_step:
            self._save(trainer, step, periodic=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step != self._saved_step and not trainer.sanity_checking:
            self._save(trainer, trainer.global_step, periodic=False)

    def _save(self, trainer: pl.Trainer, step: int, periodic: bool) -> None:
        targets = [self.dirpath / f"step_{step:07d}.ckpt"] if periodic else []
        if self.save_last:
            targets.append(self.dirpath / "last.ckpt")
        if not targets:
            return
        tmp = self.dirpath / f".saving_{step:07d}.tmp"
        trainer.save_checkpoint(tmp, weights_only=False)  # collective: every rank runs the save hooks, rank 0 writes
        if trainer.is_global_zero:
            for path in targets[:-1]:  # the same file under several names: hard link, else copy
                part = path.with_name(f".{path.name}.tmp")
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
        steps = sorted(self.dirpath.glob("step_*.ckpt"))
        for old in steps[: max(len(steps) - self.keep, 0)]:
            old.unlink(missing_ok=True)
