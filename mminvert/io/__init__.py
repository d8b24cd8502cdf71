"""Files: safe checkpoint reading (checkpoint_file.py), atomic writes (atomic.py), the run folder's layout
(run_folder.py), StyleGAN2 from rosinality / NVlabs files and our own format, safe unpickling, auxiliary weights."""

from .atomic import atomic_torch_save, atomic_write_bytes, atomic_write_text
from .aux_weights import MissingWeightsError, resolve_weights
from .checkpoint_file import read_checkpoint
from .errors import CheckpointError
from .run_folder import resolve_checkpoint
from .stylegan2 import (
    build_generator,
    bundled_discriminator_names,
    bundled_generator_name,
    export_rosinality,
    load_discriminator,
    load_generator,
    save_discriminator,
    save_stylegan2,
)

__all__ = ["MissingWeightsError", "resolve_weights", "CheckpointError", "build_generator", "load_generator",
           "bundled_generator_name", "bundled_discriminator_names",
           "load_discriminator", "save_stylegan2", "save_discriminator", "export_rosinality",
           "read_checkpoint", "resolve_checkpoint", "atomic_torch_save", "atomic_write_text", "atomic_write_bytes"]
