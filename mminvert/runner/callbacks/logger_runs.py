"""Keep a resumed run in the same logger runs: the loggers' run ids travel with the checkpoint."""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

__all__ = ["LoggerRunIds", "resume_logger_kwargs"]

KEY = "mminvert_logger_runs"


class LoggerRunIds(pl.Callback):
    """Writes {logger class: run id / version} into every checkpoint (wandb run id, CSV/TensorBoard version)."""

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        runs = {}
        for logger in trainer.loggers:
            version = getattr(logger, "version", None)
            if version is not None:
                runs[type(logger).__name__] = version if isinstance(version, (int, str)) else str(version)
        checkpoint[KEY] = runs


def resume_logger_kwargs(checkpoint: dict[str, Any], target: str) -> dict[str, Any]:
    """Constructor arguments that reopen the wandb run recorded in `checkpoint`. File loggers (CSV,
    TensorBoard) start a new version folder beside the old one instead: reopening would rewrite it."""
    version = (checkpoint.get(KEY) or {}).get(target.rsplit(".", 1)[-1])
    if version is None or not target.endswith("WandbLogger"):
        return {}
    return {"id": version, "resume": "allow"}
