"""Load a DiverseInversion from a training checkpoint of task=diverse or an inference bundle that holds one."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..io.errors import CheckpointError
from ..io.stylegan2 import read_checkpoint
from .model import DiverseInversion

__all__ = ["load_diverse", "diverse_from_checkpoint_dict"]


def diverse_from_checkpoint_dict(obj: Any, path: str | Path) -> DiverseInversion:
    """The model of a bundle dict (`architecture` + `state_dict`) or of a training checkpoint (`mminvert_architecture`
    + the LightningModule's `model.*` weights), in eval mode."""
    if not isinstance(obj, dict):
        raise CheckpointError(path, "not an mminvert checkpoint (top level is not a dict)")
    if "architecture" in obj and "state_dict" in obj:
        arch, state = obj["architecture"], obj["state_dict"]
    elif "mminvert_architecture" in obj and "state_dict" in obj:
        arch = obj["mminvert_architecture"]
        state = {k[len("model."):]: v for k, v in obj["state_dict"].items() if k.startswith("model.")}
    else:
        raise CheckpointError(path, "expected a training checkpoint of task=diverse or an inference bundle")
    if arch.get("model_class") != "DiverseInversion":
        raise CheckpointError(path, f"holds a {arch.get('model_class', 'MMInvertFill')} model, not DiverseInversion")
    model = DiverseInversion.from_architecture(arch)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(path, f"weights do not match the recorded architecture: missing {missing[:5]}, "
                                    f"unexpected {unexpected[:5]}")
    return model.eval()


def load_diverse(path: str | Path, map_location: str | torch.device = "cpu") -> DiverseInversion:
    return diverse_from_checkpoint_dict(read_checkpoint(path, map_location), path).to(map_location)
