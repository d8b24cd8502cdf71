"""Training: the StyleGAN2 pre-training LightningModule, its losses and callbacks, and `train(cfg)`."""
from .augment import DiffAugment
from .callbacks import ExportGenerator, FIDCallback, InpaintingSampleGrid, SampleGrid, StepCheckpoint
from .ema import ema_beta, ema_update
from .inpainting import InpaintingModule
from .losses import d_logistic_loss, g_nonsaturating_loss, path_lengths, r1_penalty
from .optim import build_lazy_optimizer, lazy_reg_ratio
from .run import train
from .style_mixing import mix_styles
from .stylegan2 import StyleGAN2Module

__all__ = [
    "StyleGAN2Module", "InpaintingModule", "train", "DiffAugment", "mix_styles", "ema_beta", "ema_update", "d_logistic_loss",
    "g_nonsaturating_loss", "r1_penalty", "path_lengths", "build_lazy_optimizer", "lazy_reg_ratio",
    "StepCheckpoint", "ExportGenerator", "SampleGrid", "FIDCallback", "InpaintingSampleGrid",
]
