"""The run folder's `config.yaml` (the fully resolved config), written only once the run has really started."""
from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from ...io.atomic import atomic_write_text
from ...io.run_folder import RUN_CONFIG

__all__ = ["save_run_config", "SaveRunConfig"]


@rank_zero_only
def save_run_config(cfg: DictConfig, output_dir: str | Path) -> None:
    """Write `<output_dir>/config.yaml`, resolved (Hydra's unresolved copy is `.hydra/config.yaml`)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output_dir / RUN_CONFIG, OmegaConf.to_yaml(cfg, resolve=True))


class SaveRunConfig(pl.Callback):
    """Write `config.yaml` when training starts, i.e. after Lightning restored the resume checkpoint: a resume
    that fails (unreadable checkpoint, another architecture) leaves the record of the original run as it was."""

    def __init__(self, cfg: DictConfig, output_dir: str | Path) -> None:
        self.cfg, self.output_dir = cfg, Path(output_dir)
        self._written = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._written:
            save_run_config(self.cfg, self.output_dir)
            self._written = True
