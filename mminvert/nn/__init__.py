"""Pure-PyTorch StyleGAN2: mapping, synthesis (with F&W+ feature injection), discriminator, ops."""
from .discriminator import StyleGAN2Discriminator
from .generator import StyleGAN2Generator, default_channels
from .mapping import MappingNetwork
from .modconv import modulated_conv2d
from .synthesis import SynthesisNetwork

__all__ = [
    "StyleGAN2Generator", "StyleGAN2Discriminator", "MappingNetwork", "SynthesisNetwork",
    "default_channels", "modulated_conv2d",
]
