"""The layout of a training run's folder, in one place. `outputs/<run_name>/<date_time>/` (Hydra's run dir) holds:

    config.yaml                 the fully resolved config (Hydra's unresolved one is .hydra/config.yaml)
    run.lock                    held by the launching process for the whole run (runner/run_lock.py)
    checkpoints/last.ckpt       the full training state, rewritten at every save (what resume and evaluation read)
    checkpoints/step_0000400.ckpt   periodic full-state checkpoints (`keep` most recent)
    samples/, evaluation/, row.json, logger folders   written by callbacks
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["RUN_CONFIG", "HYDRA_CONFIG", "LOCK_NAME", "CHECKPOINTS_DIR", "LAST_CHECKPOINT", "STEP_CHECKPOINT_GLOB",
           "step_checkpoint_name", "run_folder_of", "resolve_checkpoint"]

RUN_CONFIG = "config.yaml"
HYDRA_CONFIG = ".hydra/config.yaml"
LOCK_NAME = "run.lock"
CHECKPOINTS_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
STEP_CHECKPOINT_GLOB = "step_*.ckpt"


def step_checkpoint_name(step: int) -> str:
    """`step_0000400.ckpt`: zero-padded, so names sort in step order."""
    return f"step_{step:07d}.ckpt"


def run_folder_of(checkpoint: str | Path) -> Path:
    """The run folder of a checkpoint file (the parent of `checkpoints/`, else the file's own folder)."""
    path = Path(checkpoint)
    return path.parent.parent if path.parent.name == CHECKPOINTS_DIR else path.parent


def resolve_checkpoint(ckpt: str | Path) -> Path:
    """A file, or a run folder (its checkpoints/last.ckpt)."""
    p = Path(ckpt)
    if p.is_dir():
        last = p / CHECKPOINTS_DIR / LAST_CHECKPOINT
        if not last.is_file():
            raise FileNotFoundError(f"{p} is a folder without {CHECKPOINTS_DIR}/{LAST_CHECKPOINT}")
        return last
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    return p
