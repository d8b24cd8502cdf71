"""Diverse inpainting and editing with GAN inversion (Yildirim et al., ICCV 2023): `task=diverse`.

The core is `model.py` (DiverseInversion): encoder (encoder.py), mixing network (mixing.py), stage-2 skip encoder
(skip_encoder.py) and the losses of `losses.py`. Its training on generated data is `mminvert.tasks.diverse`
(DiverseModule, with `mminvert.data.GeneratedDataModule`); nothing here imports Lightning.
"""
from .discriminator import build_discriminator
from .encoder import DiverseEncoder
from .losses import CompositeAdversarial, DiverseLoss
from .mixing import MixingNetwork
from .model import DiverseInversion
from .skip_encoder import SkipEncoder

__all__ = ["DiverseInversion", "DiverseEncoder", "MixingNetwork", "SkipEncoder", "DiverseLoss", "CompositeAdversarial",
           "build_discriminator"]
