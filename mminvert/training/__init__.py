"""The inpainting task: its LightningModule, callbacks, and `train(cfg)` (which also runs StyleGAN2
pre-training, `task=stylegan2`, whose module lives in `mminvert.stylegan2`)."""
from .callbacks import ExportGenerator, FIDCallback, InpaintingSampleGrid, SampleGrid, StepCheckpoint
from .inpainting import InpaintingModule
from .run import train

__all__ = ["InpaintingModule", "train", "StepCheckpoint", "ExportGenerator", "SampleGrid", "FIDCallback",
           "InpaintingSampleGrid"]
