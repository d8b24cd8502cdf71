"""Where a run's checkpoint is: `resolve_checkpoint(run folder | file)`, shared by evaluation, inference and the CLI."""
from __future__ import annotations

from pathlib import Path

__all__ = ["resolve_checkpoint"]


def resolve_checkpoint(ckpt: str | Path) -> Path:
    """A file, or a run folder (its checkpoints/last.ckpt)."""
    p = Path(ckpt)
    if p.is_dir():
        last = p / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise FileNotFoundError(f"{p} is a folder without checkpoints/last.ckpt")
        return last
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    return p
