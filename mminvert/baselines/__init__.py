"""Inpainting baselines: Telea (OpenCV), and on a frozen StyleGAN2: W+ optimisation (Wauquiez) with optional
semantic guidance, MAGEC (edit-consistent W+ optimisation), and z optimisation with a contextual loss, a GAN
prior and Poisson blending (with the WGAN-GP networks of its seed, `baselines.wgan_gp`)."""
from .contextual_inversion import ContextualInversion, importance_weights
from .magec import PAPER_PHASES, LinkNet, MagecInversion, MagecPhase, magec_loss, train_linknet
from .optim_inversion import OptimInversion
from .poisson import poisson_blend
from .semantic import AttributeGuidance, TextGuidance
from .telea import telea_fill, telea_uint8

__all__ = ["OptimInversion", "AttributeGuidance", "TextGuidance", "ContextualInversion", "importance_weights",
           "poisson_blend", "MagecInversion", "LinkNet", "train_linknet", "magec_loss", "MagecPhase", "PAPER_PHASES",
           "telea_fill", "telea_uint8"]
