"""Checkpoint formats: StyleGAN2 from rosinality / NVlabs files, our own format, safe unpickling."""
from .aux_weights import MissingWeightsError, resolve_weights
from .errors import CheckpointError
from .stylegan2 import (build_generator, export_rosinality, load_discriminator, load_generator, read_checkpoint,
                        register_bundled_generator, save_stylegan2)

__all__ = ["MissingWeightsError", "resolve_weights", "CheckpointError", "build_generator", "load_generator", "load_discriminator", "save_stylegan2", "export_rosinality",
           "read_checkpoint", "register_bundled_generator"]
