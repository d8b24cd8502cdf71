"""`train(cfg)`: compose → instantiate → fit. Called by train.py and by tests with a composed config."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from .callbacks import StepCheckpoint

__all__ = ["train", "build_module", "build_callbacks", "build_loggers"]

log = logging.getLogger(__name__)


def _nodes(cfg: DictConfig | None) -> list[DictConfig]:
    """Instantiable nodes of a group: the node itself if it has `_target_`, else its children that do."""
    if not cfg:
        return []
    if "_target_" in cfg:
        return [cfg]
    return [v for v in cfg.values() if isinstance(v, DictConfig) and "_target_" in v]


def build_module(cfg: DictConfig) -> pl.LightningModule:
    """`cfg.task.module` built with every `_target_` node of `cfg.model` (generator=..., discriminator=...)."""
    parts = {k: instantiate(v) for k, v in cfg.model.items() if isinstance(v, DictConfig) and "_target_" in v}
    return instantiate(cfg.task.module, **parts)


def build_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    return [instantiate(c) for c in _nodes(cfg.get("callbacks"))]


def build_loggers(cfg: DictConfig) -> list[Any]:
    return [instantiate(c) for c in _nodes(cfg.get("logger"))]


@rank_zero_only
def _save_config(cfg: DictConfig, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)


def train(cfg: DictConfig) -> float | None:
    """Train `cfg.task` on `cfg.data`; returns the value of `cfg.task.optimized_metric` if it was logged."""
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    _save_config(cfg, output_dir)  # fully resolved, beside Hydra's unresolved .hydra/config.yaml
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    callbacks = build_callbacks(cfg)
    trainer_kwargs: dict[str, Any] = {}
    if any(isinstance(c, StepCheckpoint) for c in callbacks):
        trainer_kwargs["enable_checkpointing"] = False  # StepCheckpoint replaces Lightning's implicit one
    if getattr(module, "automatic_optimization", True) is False and cfg.trainer.get("strategy") == "ddp":
        # Manual GAN optimisation: each backward touches only G or only D, so DDP must find unused ones.
        trainer_kwargs["strategy"] = "ddp_find_unused_parameters_true"
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=build_loggers(cfg) or False,
                                      **trainer_kwargs)
    with warnings.catch_warnings():
        # Lightning warns about the data loader's worker count on tiny CPU runs; the config decides.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    name = cfg.task.get("optimized_metric")
    value = trainer.callback_metrics.get(name) if name else None
    if name and value is None:
        log.info("optimised metric %r was not logged; returning None", name)
    return None if value is None else float(value)
