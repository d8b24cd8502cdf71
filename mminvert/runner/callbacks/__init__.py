"""Training callbacks: full-state checkpoints, generator export, sample grids, the FID hook, the step progress bar
(rich on a terminal, progress lines in logs), the machine / run-time estimate."""
from .checkpoint import StepCheckpoint
from .export import ExportGenerator
from .fid import FIDCallback
from .inpainting_grid import InpaintingSampleGrid, inpainting_grid
from .logger_runs import LoggerRunIds
from .progress import StepProgressBar
from .run_estimate import RunEstimate
from .samples import SampleGrid, log_uint8_image, to_uint8_grid

__all__ = ["StepCheckpoint", "ExportGenerator", "SampleGrid", "FIDCallback", "to_uint8_grid", "log_uint8_image",
           "InpaintingSampleGrid", "inpainting_grid",
           "LoggerRunIds", "StepProgressBar", "RunEstimate"]
