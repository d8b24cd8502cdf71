"""mminvert: encoder-based GAN-inversion image inpainting on a frozen, pretrained StyleGAN2."""
from .inference import Inpainter
from .io import CheckpointError, export_rosinality, load_discriminator, load_generator, save_stylegan2
from .stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

__version__ = "0.1.0"
__all__ = ["Inpainter", "load_generator", "load_discriminator", "save_stylegan2", "export_rosinality", "CheckpointError",
           "StyleGAN2Generator", "StyleGAN2Discriminator", "__version__"]
