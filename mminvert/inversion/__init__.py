"""GAN inversion: map2style / map2structure, pre-modulation, soft-update mean latent, F&W+ skips."""
from .map2style import MapToVectors, style_groups
from .mminvertfill import MMInvertFill
from .premod import PreModulation, instance_norm_codes
from .skip import SkipInjection
from .sml import SoftMeanLatent

__all__ = ["MMInvertFill", "MapToVectors", "style_groups", "PreModulation", "instance_norm_codes",
           "SkipInjection", "SoftMeanLatent"]
