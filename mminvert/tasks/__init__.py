"""The trainable tasks, one LightningModule per file, built by `train(cfg)` from `cfg.task.module`:

- `inpainting`: MMInvertFill / InvertFill / pSp encoders against a frozen StyleGAN2 (`task=inpainting`);
- `stylegan2`: StyleGAN2 pre-training (`task=stylegan2`); `stylegan2_discriminator`: a post-hoc discriminator for a
  fixed generator (`python -m mminvert.tasks.stylegan2_discriminator`);
- `diverse`: diverse inpainting on generated data (`task=diverse`);
- `wgan_gp`: the WGAN-GP of the contextual-inversion baseline (`task=wgan_gp`).

Importing this package imports Lightning; the networks they train (mminvert.stylegan2, .inversion, .diverse,
.baselines.wgan_gp) do not.
"""
from .diverse import DiverseModule
from .inpainting import InpaintingModule
from .stylegan2 import StyleGAN2Module
from .wgan_gp import WGANGPModule

__all__ = ["InpaintingModule", "StyleGAN2Module", "DiverseModule", "WGANGPModule"]
