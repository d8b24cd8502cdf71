"""Non-encoder inpainting baselines on a frozen StyleGAN2: W+ optimisation (Wauquiez) with optional
semantic guidance, and z optimisation with a contextual loss, a GAN prior and Poisson blending."""
from .contextual_inversion import ContextualInversion, importance_weights
from .optim_inversion import OptimInversion
from .poisson import poisson_blend
from .semantic import AttributeGuidance, TextGuidance

__all__ = ["OptimInversion", "AttributeGuidance", "TextGuidance", "ContextualInversion", "importance_weights",
           "poisson_blend"]
