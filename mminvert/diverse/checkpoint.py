"""Load a DiverseInversion from a training checkpoint of task=diverse or an inference bundle that holds one."""
from __future__ import annotations

from pathlib import Path

import torch

from ..inference.bundle import load_bundle
from ..io.errors import CheckpointError
from .model import DiverseInversion

__all__ = ["load_diverse"]


def load_diverse(path: str | Path, map_location: str | torch.device = "cpu") -> DiverseInversion:
    """The DiverseInversion (eval mode) a file holds; a CheckpointError when it holds another model class."""
    model = load_bundle(path, map_location)
    if not isinstance(model, DiverseInversion):
        raise CheckpointError(path, f"holds a {type(model).__name__} model, not a DiverseInversion")
    return model
