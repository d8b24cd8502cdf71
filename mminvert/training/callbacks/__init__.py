"""Training callbacks: full-state checkpoints, generator export, sample grids, the FID hook."""
from .checkpoint import StepCheckpoint
from .export import ExportGenerator
from .fid import FIDCallback
from .samples import SampleGrid, to_uint8_grid

__all__ = ["StepCheckpoint", "ExportGenerator", "SampleGrid", "FIDCallback", "to_uint8_grid"]
