"""`train(cfg)`: compose → instantiate → fit. Called by train.py and by tests with a composed config."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.utilities import rank_zero_only

from .callbacks import StepCheckpoint, StepProgressBar
from .callbacks.logger_runs import LoggerRunIds, resume_logger_kwargs

__all__ = ["train", "build_module", "build_callbacks", "build_loggers", "init_weights"]

log = logging.getLogger(__name__)


def _nodes(cfg: DictConfig | None) -> list[DictConfig]:
    """Instantiable nodes of a group: the node itself if it has `_target_`, else its children that do."""
    if not cfg:
        return []
    if "_target_" in cfg:
        return [cfg]
    return [v for v in cfg.values() if isinstance(v, DictConfig) and "_target_" in v]


def build_module(cfg: DictConfig) -> pl.LightningModule:
    """`cfg.task.module`: the task's LightningModule with the parts its config names (`model: ${model}` for
    inpainting, `generator`/`discriminator: ${gan.*}` for StyleGAN2 pre-training)."""
    return instantiate(cfg.task.module)


def init_weights(module: pl.LightningModule, path: str) -> None:
    """Load weights only (no optimiser or step) from a Lightning checkpoint or an mminvert bundle; tensors
    that are missing, unexpected or of another shape are reported and left as initialised."""
    from ..io.stylegan2 import read_checkpoint

    obj = read_checkpoint(path)
    state = obj.get("state_dict", {}) if isinstance(obj, dict) else {}
    if isinstance(obj, dict) and obj.get("format") == "mminvert.inpainter":
        state = {f"model.{k}": v for k, v in obj["state_dict"].items()}
    own = module.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    reshaped = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    missing = sorted(set(own) - set(usable) - set(reshaped))
    unexpected = sorted(set(state) - set(own))
    module.load_state_dict(usable, strict=False)
    log.info("init_from %s: loaded %d tensors", path, len(usable))
    for name, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", reshaped)):
        if keys:
            log.warning("init_from %s: %d %s tensor(s), e.g. %s", path, len(keys), name, keys[:5])


def build_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    return [instantiate(c) for c in _nodes(cfg.get("callbacks"))]


def build_loggers(cfg: DictConfig) -> list[Any]:
    """Loggers of `cfg.logger`; when resuming (`ckpt_path`), reopened in the runs the checkpoint recorded."""
    resume: dict[str, Any] = {}
    if cfg.get("ckpt_path"):
        from ..io.stylegan2 import read_checkpoint

        resume = read_checkpoint(cfg.ckpt_path)
    return [instantiate(c, **resume_logger_kwargs(resume, c._target_)) for c in _nodes(cfg.get("logger"))]


@rank_zero_only
def _save_config(cfg: DictConfig, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)


@contextlib.contextmanager
def _isolated_distributed_job() -> Iterator[None]:
    """Undo what a DDP launch leaves in this process (process group, LOCAL_RANK/MASTER_PORT/... variables)
    when the job ends, so the next job of a multirun launches its own ranks."""
    env = dict(os.environ)
    try:
        yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for key in set(os.environ) - set(env):
            del os.environ[key]
        os.environ.update(env)


def _pin_multirun_job_for_ddp_children() -> bool:
    """In a Hydra multirun, make DDP child processes run *this job* instead of the whole sweep.

    Lightning starts each child rank as `python <script> <sys.argv[1:]> hydra.run.dir=<run.dir>`; in a
    multirun that argv holds `-m` and every sweep value, so children would launch the sweep again. Here
    argv becomes this job's own overrides and `run.dir` its output folder, so every rank of a job shares
    one run folder and config.
    """
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
    except ImportError:  # pragma: no cover - hydra is a dependency
        return
    if not HydraConfig.initialized():
        return False
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return False
    sys.argv = [sys.argv[0], *hc.overrides.task]
    with read_write(hc):
        hc.run.dir = hc.runtime.output_dir
    return True


def _resume_own_run(cfg: DictConfig) -> None:
    """Without `ckpt_path`, a run folder that already holds `checkpoints/last.ckpt` (a requeued SLURM job,
    a re-used `hydra.run.dir`) is continued from it instead of being overwritten; `auto_resume=false`
    refuses to start there instead."""
    if cfg.get("ckpt_path"):
        return
    dirpath = OmegaConf.select(cfg, "callbacks.checkpoint.dirpath")
    last = Path(dirpath) / "last.ckpt" if dirpath else None
    if last is None or not last.is_file():
        return
    if not cfg.get("auto_resume", True):
        raise FileExistsError(f"{last} exists: this run folder already holds a training run. Continue it with "
                              f"ckpt_path={last} (or auto_resume=true), or train into a new folder.")
    log.info("continuing the run in this folder from %s (auto_resume)", last)
    with open_dict(cfg):
        cfg.ckpt_path = str(last)


def train(cfg: DictConfig) -> float | None:
    """Train `cfg.task` on `cfg.data`; returns the value of `cfg.task.optimized_metric` if it was logged."""
    multirun = _pin_multirun_job_for_ddp_children()
    _resume_own_run(cfg)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    _save_config(cfg, output_dir)  # fully resolved, beside Hydra's unresolved .hydra/config.yaml
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    if cfg.get("init_from"):
        init_weights(module, cfg.init_from)
    callbacks = build_callbacks(cfg) + [LoggerRunIds()]
    if cfg.trainer.get("enable_progress_bar", True) and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(StepProgressBar())
    trainer_kwargs: dict[str, Any] = {}
    if any(isinstance(c, StepCheckpoint) for c in callbacks):
        trainer_kwargs["enable_checkpointing"] = False  # StepCheckpoint replaces Lightning's implicit one
    if getattr(module, "automatic_optimization", True) is False and cfg.trainer.get("strategy") == "ddp":
        # Manual GAN optimisation: each backward touches only G or only D, so DDP must find unused ones.
        trainer_kwargs["strategy"] = "ddp_find_unused_parameters_true"
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=build_loggers(cfg) or False,
                                      **trainer_kwargs)
    with warnings.catch_warnings(), (_isolated_distributed_job() if multirun else contextlib.nullcontext()):
        # Lightning warns about the data loader's worker count on tiny CPU runs; the config decides.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        # mminvert's DataModule orders training data by step (ResumableSampler), so mid-epoch resumes are exact.
        warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
        # The frozen generator and perceptual backbones are in eval mode on purpose.
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")
        if cfg.task.get("validate_before_fit") and not cfg.get("ckpt_path"):
            trainer.validate(module, datamodule=datamodule)  # the step-0 baseline of the validation metrics
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    name = cfg.task.get("optimized_metric")
    value = trainer.callback_metrics.get(name) if name else None
    if name and value is None:
        log.info("optimised metric %r was not logged; returning None", name)
    return None if value is None else float(value)
