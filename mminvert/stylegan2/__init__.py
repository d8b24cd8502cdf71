"""StyleGAN2 in pure PyTorch: the networks (mapping, synthesis with F&W+ feature injection, discriminator, ops) and
the math of their GAN training (losses, lazy regularisation, EMA, style mixing, DiffAugment). The training loop is
`mminvert.tasks.stylegan2.StyleGAN2Module`; nothing here imports Lightning."""
from .diffaugment import DiffAugment
from .discriminator import StyleGAN2Discriminator
from .ema import ema_beta, ema_update
from .generator import StyleGAN2Generator, default_channels
from .injection import FeatureModulation, inject
from .lazy_reg import build_lazy_optimizer, lazy_reg_ratio
from .losses import d_logistic_loss, g_nonsaturating_loss, path_lengths, r1_penalty
from .mapping import MappingNetwork
from .modconv import modulated_conv2d
from .style_mixing import mix_styles
from .synthesis import SynthesisNetwork

__all__ = [
    "StyleGAN2Generator", "StyleGAN2Discriminator", "FeatureModulation", "inject", "MappingNetwork", "SynthesisNetwork",
    "default_channels", "modulated_conv2d", "DiffAugment", "mix_styles", "ema_beta", "ema_update",
    "d_logistic_loss", "g_nonsaturating_loss", "r1_penalty", "path_lengths", "build_lazy_optimizer", "lazy_reg_ratio",
]
