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

from ..io.checkpoint_file import read_checkpoint
from ..io.errors import CheckpointError
from ..io.formats import BUNDLE_FORMAT
from ..io.run_folder import LAST_CHECKPOINT, STEP_CHECKPOINT_GLOB
from ..utils.config_types import check_config_types
from ..utils.precision import set_tf32
from ..utils.threads import set_threads
from .callbacks import StepCheckpoint, StepProgressBar
from .callbacks.evaluate_after_fit import EvaluateAfterFit
from .callbacks.logger_runs import LoggerRunIds, resume_logger_kwargs
from .callbacks.record_data import RecordDataSet
from .callbacks.run_config import SaveRunConfig, save_run_config
from .distributed import configure_ddp
from .resume import check_resume_checkpoint, check_resume_fits, describe_checkpoint, find_resume_checkpoint
from .run_lock import RunFolderLock, is_launching_process

__all__ = ["train", "build_module", "build_callbacks", "build_loggers", "init_weights", "check_trainer_config",
           "INIT_FROM_MIN_FRACTION"]

log = logging.getLogger(__name__)

# `init_from` must fill at least this fraction of the model's trainable tensors (counted as tensors, loaded
# by name and shape), or the run stops (unless init_from_strict=false). Half: a file of the same model with
# an ablation switched (skip connections, pre-modulation) fills most of them; a file of another task, a
# StyleGAN2 generator or another width fills few or none, and the run would train from scratch.
INIT_FROM_MIN_FRACTION = 0.5


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


def init_weights(module: pl.LightningModule, path: str, strict: bool = True) -> int:
    """Load weights only (no optimiser or step) from a Lightning checkpoint or an mminvert bundle; tensors
    that are missing, unexpected or of another shape are reported and left as initialised. Returns the number
    of tensors loaded. With `strict`, a file that fills less than INIT_FROM_MIN_FRACTION of the trainable
    tensors is refused (CheckpointError) before anything is loaded."""
    obj = read_checkpoint(path)
    state = obj.get("state_dict", {}) if isinstance(obj, dict) else {}
    if isinstance(obj, dict) and obj.get("format") == BUNDLE_FORMAT:
        state = {f"model.{k}": v for k, v in obj["state_dict"].items()}
    own = module.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    reshaped = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    missing = sorted(set(own) - set(usable) - set(reshaped))
    unexpected = sorted(set(state) - set(own))
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    filled = len(trainable & set(usable))
    if trainable and filled < INIT_FROM_MIN_FRACTION * len(trainable):
        problem = (f"init_from fills only {filled} of the model's {len(trainable)} trainable tensors (at least "
                   f"{INIT_FROM_MIN_FRACTION:.0%} are required): the file is {describe_checkpoint(obj)}, and "
                   "training would start mostly from scratch. init_from takes a training checkpoint or inference "
                   "bundle of the same task and model; a StyleGAN2 generator belongs in model.generator.path.")
        if strict:
            raise CheckpointError(path, f"{problem} Set init_from_strict=false to start from it anyway.")
        log.warning("%s: %s (init_from_strict=false: continuing)", path, problem)
    module.load_state_dict(usable, strict=False)
    log.info("init_from %s: loaded %d tensors (%d of %d trainable)", path, len(usable), filled, len(trainable))
    for name, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", reshaped)):
        if keys:
            log.warning("init_from %s: %d %s tensor(s), e.g. %s", path, len(keys), name, keys[:5])
    return len(usable)


def build_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    return [instantiate(c) for c in _nodes(cfg.get("callbacks"))]


def build_loggers(cfg: DictConfig, resume: dict[str, Any] | None = None) -> list[Any]:
    """Loggers of `cfg.logger`; when resuming, reopened in the runs the checkpoint (`resume`, read from
    `cfg.ckpt_path` if not given) recorded."""
    if resume is None and cfg.get("ckpt_path"):
        from ..io.checkpoint_file import read_checkpoint

        resume = read_checkpoint(cfg.ckpt_path)
    return [instantiate(c, **resume_logger_kwargs(resume or {}, c._target_)) for c in _nodes(cfg.get("logger"))]


# Trainer arguments that must be numbers: a string slipping through (trainer.max_steps=abc) otherwise fails
# deep inside Lightning with a TypeError that names neither the key nor the value.
_TRAINER_INTEGERS = ("max_steps", "min_steps", "max_epochs", "min_epochs", "log_every_n_steps", "num_nodes",
                     "accumulate_grad_batches", "check_val_every_n_epoch", "num_sanity_val_steps")
_TRAINER_NUMBERS = ("val_check_interval", "limit_train_batches", "limit_val_batches", "limit_test_batches",
                    "gradient_clip_val")


def check_trainer_config(trainer: DictConfig) -> None:
    """ValueError naming the key when a numeric `trainer.*` setting is not a number."""
    for key in (*_TRAINER_INTEGERS, *_TRAINER_NUMBERS):
        value = trainer.get(key)
        kinds = int if key in _TRAINER_INTEGERS else (int, float)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            kind = "an integer" if key in _TRAINER_INTEGERS else "a number"
            raise ValueError(f"trainer.{key} must be {kind} (or null), got {value!r}")


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


def _resume_checkpoint(cfg: DictConfig) -> dict[str, Any] | None:
    """The checkpoint this run continues from, read and checked before anything is written, or None.

    `ckpt_path` is checked as given. Without it, a run folder that already holds checkpoints (a requeued
    SLURM job, a re-used `hydra.run.dir`) continues from its newest intact one — `last.ckpt`, else the newest
    readable `step_*.ckpt`, with a warning — instead of being overwritten; `auto_resume=false` refuses to
    start there instead."""
    if cfg.get("ckpt_path"):
        return check_resume_checkpoint(cfg.ckpt_path)
    dirpath = OmegaConf.select(cfg, "callbacks.checkpoint.dirpath")
    if not dirpath:
        return None
    folder = Path(dirpath)
    existing = [p for p in [folder / LAST_CHECKPOINT, *sorted(folder.glob(STEP_CHECKPOINT_GLOB))] if p.is_file()]
    if not existing:
        return None
    if not cfg.get("auto_resume", True):
        raise FileExistsError(f"{existing[0]} exists: this run folder already holds a training run. Continue it "
                              f"with ckpt_path={existing[0]} (or auto_resume=true), or train into a new folder.")
    path, obj = find_resume_checkpoint(folder)
    log.info("continuing the run in this folder from %s (auto_resume)", path)
    with open_dict(cfg):
        cfg.ckpt_path = str(path)
    return obj


def train(cfg: DictConfig) -> float | None:
    """Train `cfg.task` on `cfg.data`; returns the value of `cfg.task.optimized_metric` if it was logged.

    The launching process holds the run folder's lock (`run.lock`) for the whole run: a second training
    started in the same folder stops with an error naming the first."""
    multirun = _pin_multirun_job_for_ddp_children()
    output_dir = Path(cfg.paths.output_dir)
    with RunFolderLock(output_dir) if is_launching_process() else contextlib.nullcontext():
        return _train(cfg, output_dir, multirun)


def _cpu_processes(trainer: DictConfig) -> int:
    """The job's processes that share this machine's cores: its DDP ranks when it trains on CPU, else 1."""
    accelerator = str(trainer.get("accelerator", "auto"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    devices = trainer.get("devices", 1)
    return int(devices) if on_cpu and isinstance(devices, int) and devices > 1 else 1


def _train(cfg: DictConfig, output_dir: Path, multirun: bool) -> float | None:
    check_trainer_config(cfg.trainer)
    set_threads(cfg.get("threads", "auto"), _cpu_processes(cfg.trainer))
    for group in ("data", "model", "task", "loss", "callbacks"):  # `data.batch_size=four` names the key
        check_config_types(cfg.get(group), group)
    resume = _resume_checkpoint(cfg)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    if resume is None:
        save_run_config(cfg, output_dir)  # fully resolved, beside Hydra's unresolved .hydra/config.yaml
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    if cfg.get("init_from"):
        init_weights(module, cfg.init_from, strict=cfg.get("init_from_strict", True))
    if resume is not None:  # another architecture or resolution: say what differs, not a load_state_dict dump
        check_resume_fits(module, resume, cfg.ckpt_path)
    callbacks = build_callbacks(cfg) + [LoggerRunIds()]
    if cfg.get("data") is not None:  # checkpoints name their data set: evaluate.py ckpt=RUN scores its test split
        callbacks.append(RecordDataSet(cfg.data))
    if OmegaConf.select(cfg, "evaluate_after_fit.enabled"):  # after fit, global rank 0 evaluates the final weights
        callbacks.append(EvaluateAfterFit(cfg, output_dir))
    if resume is not None:  # written once the checkpoint has loaded: a failed resume keeps the original record
        callbacks.append(SaveRunConfig(cfg, output_dir))
    if cfg.trainer.get("enable_progress_bar", True) and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(StepProgressBar())
    trainer_kwargs: dict[str, Any] = {}
    if any(isinstance(c, StepCheckpoint) for c in callbacks):
        trainer_kwargs["enable_checkpointing"] = False  # StepCheckpoint replaces Lightning's implicit one
    if "use_distributed_sampler" not in cfg.trainer:
        # mminvert's data modules shard across ranks themselves (ResumableSampler, DistributedSampler for evaluation);
        # Lightning's wrapper would shard each rank's shard again (half the data, IndexError at the epoch's end).
        trainer_kwargs["use_distributed_sampler"] = False
    set_tf32(cfg.get("tf32", True))
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=build_loggers(cfg, resume) or False,
                                      **trainer_kwargs)
    configure_ddp(trainer, module)  # any DDP strategy (ddp, auto with devices > 1, SLURM): find unused, SyncBN
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
