"""Inference bundle: model architecture (plain data) + weights, loadable without Lightning or Hydra.

`{"format": "mminvert.inpainter", "version": 1, "architecture": {...}, "state_dict": {...}}` — the
state dict includes the generator and the soft-updated mean latent w̄_onl. Read with
`torch.load(weights_only=True)`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..inversion import MMInvertFill
from ..io.errors import CheckpointError
from ..io.stylegan2 import _atomic_save, read_checkpoint

__all__ = ["BUNDLE_FORMAT", "save_bundle", "load_bundle", "model_from_checkpoint_dict", "check_export_target"]

BUNDLE_FORMAT = "mminvert.inpainter"


def save_bundle(model: MMInvertFill, path: str | Path, **extra: Any) -> Path:
    """Write the bundle atomically (a temporary file renamed into place)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    obj = {"format": BUNDLE_FORMAT, "version": 1, "architecture": model.architecture(), "state_dict": state, **extra}
    return _atomic_save(obj, path)


def check_export_target(source: str | Path, out: str | Path) -> None:
    """Refuse to export onto the checkpoint being exported (the same file under any name: a relative path,
    a symlink, a hard link): `overwrite=true` would replace a training checkpoint, with its optimiser state
    and step, by a weights-only bundle."""
    out = Path(out)
    if out.exists() and os.path.samefile(source, out):
        same = "" if Path(source).resolve() == out.resolve() else f" (it is {Path(source).resolve()})"
        raise FileExistsError(f"refusing to export to {out}{same}: that is the checkpoint being exported, and "
                              "overwriting it would lose it (a bundle keeps weights only). Choose another out=.")


def model_from_checkpoint_dict(obj: Any, path: str | Path) -> MMInvertFill:
    """Model from a bundle dict, or from a training checkpoint that carries `mminvert_architecture`."""
    if not isinstance(obj, dict):
        raise CheckpointError(path, "not an mminvert inpainting checkpoint (top level is not a dict)")
    if obj.get("format") == BUNDLE_FORMAT:
        arch, state = obj["architecture"], obj["state_dict"]
    elif "mminvert_architecture" in obj and "state_dict" in obj:  # Lightning checkpoint of the inpainting task
        arch = obj["mminvert_architecture"]
        prefix = "model."
        state = {k[len(prefix):]: v for k, v in obj["state_dict"].items() if k.startswith(prefix)}
    else:
        raise CheckpointError(path, "not an mminvert inpainting checkpoint: expected an inference bundle "
                                    "(format 'mminvert.inpainter') or a training checkpoint of the inpainting task")
    model = MMInvertFill.from_architecture(arch)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(path, f"weights do not match the recorded architecture: missing {missing[:5]}, "
                                    f"unexpected {unexpected[:5]}")
    return model.eval()


def load_bundle(path: str | Path, map_location: str | torch.device = "cpu") -> MMInvertFill:
    return model_from_checkpoint_dict(read_checkpoint(path, map_location), path).to(map_location)
