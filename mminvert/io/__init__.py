"""Checkpoint formats: StyleGAN2 from rosinality / NVlabs files, our own format, safe unpickling."""

from ..utils.assets import bundled_asset
from .aux_weights import MissingWeightsError, resolve_weights
from .errors import CheckpointError
from .run_checkpoint import resolve_checkpoint
from .stylegan2 import (
    build_generator,
    bundled_discriminator_names,
    bundled_generator_name,
    export_rosinality,
    load_discriminator,
    load_generator,
    read_checkpoint,
    register_bundled_discriminator,
    register_bundled_generator,
    save_discriminator,
    save_stylegan2,
)

# The generator trained by mminvert on the built-in scenes ships with the package: load_generator("scenes64").
register_bundled_generator("scenes64", bundled_asset("generator", "scenes64"))
# Its discriminator, trained afterwards against the frozen generator: load_discriminator("scenes64").
register_bundled_discriminator("scenes64", bundled_asset("discriminator", "scenes64"))

__all__ = ["MissingWeightsError", "resolve_weights", "CheckpointError", "build_generator", "load_generator",
           "bundled_generator_name", "bundled_discriminator_names",
           "load_discriminator", "save_stylegan2", "save_discriminator", "export_rosinality",
           "read_checkpoint", "register_bundled_generator", "register_bundled_discriminator", "resolve_checkpoint"]
