"""Checkpoint formats: StyleGAN2 from rosinality / NVlabs files, our own format, safe unpickling."""
from pathlib import Path

from .aux_weights import MissingWeightsError, resolve_weights
from .errors import CheckpointError
from .run_checkpoint import resolve_checkpoint
from .stylegan2 import (
    build_generator,
    export_rosinality,
    load_discriminator,
    load_generator,
    read_checkpoint,
    register_bundled_generator,
    save_stylegan2,
)

# The generator trained by mminvert on the built-in scenes ships with the package: load_generator("scenes64").
register_bundled_generator("scenes64", Path(__file__).resolve().parents[1] / "assets" / "scenes64.pt")

__all__ = ["MissingWeightsError", "resolve_weights", "CheckpointError", "build_generator", "load_generator",
           "load_discriminator", "save_stylegan2", "export_rosinality",
           "read_checkpoint", "register_bundled_generator", "resolve_checkpoint"]
