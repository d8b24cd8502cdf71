"""Non-encoder inpainting baselines on a frozen StyleGAN2."""
from .optim_inversion import OptimInversion

__all__ = ["OptimInversion"]
