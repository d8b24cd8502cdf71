"""WGAN-GP (Gulrajani et al. 2017) with DCGAN-style networks: the networks, losses and file format of step 1 of
Vitoria et al.'s semantic inpainting. Trained by `python train.py task=wgan_gp` (mminvert.tasks.wgan_gp); the
inpainting itself is `baselines.ContextualInversion`."""
from .files import BUNDLED_WGAN_GP, is_wgan_gp_file, load_wgan_gp, save_wgan_gp
from .losses import critic_loss, generator_loss, gradient_penalty
from .networks import DCGANCritic, DCGANGenerator

__all__ = ["DCGANGenerator", "DCGANCritic", "gradient_penalty", "critic_loss", "generator_loss",
           "save_wgan_gp", "load_wgan_gp", "is_wgan_gp_file", "BUNDLED_WGAN_GP"]
