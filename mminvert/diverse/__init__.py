"""Diverse inpainting and editing with GAN inversion (Yildirim et al., ICCV 2023): `model=diverse`, `task=diverse`.

The core is `model.py` (DiverseInversion): encoder (encoder.py), mixing network (mixing.py), stage-2 skip encoder
(skip_encoder.py); training on generated data in `module.py` with the losses of `losses.py`.
"""
from .checkpoint import load_diverse
from .data import GeneratedDataModule, StepCounter
from .discriminator import build_discriminator
from .encoder import DiverseEncoder
from .losses import CompositeAdversarial, DiverseLoss
from .mixing import MixingNetwork
from .model import DiverseInversion
from .module import DiverseModule
from .skip_encoder import SkipEncoder

__all__ = ["DiverseInversion", "DiverseEncoder", "MixingNetwork", "SkipEncoder", "DiverseLoss", "CompositeAdversarial",
           "DiverseModule", "GeneratedDataModule", "StepCounter", "build_discriminator", "load_diverse"]
