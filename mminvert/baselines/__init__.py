"""Non-encoder inpainting baselines on a frozen StyleGAN2."""
from .optim_inversion import OptimInversion
from .semantic import AttributeGuidance, TextGuidance

__all__ = ["OptimInversion", "AttributeGuidance", "TextGuidance"]
