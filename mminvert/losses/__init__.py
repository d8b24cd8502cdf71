"""Losses of inpainting training: masked L1, perceptual (HRF / VGG / LPIPS), adversarial (PatchGAN + R1),
multi-scale reconstruction, fidelity, and the composite objective."""
from .adversarial import NonSaturatingAdversarial, PatchDiscriminator, sobel_edges
from .composite import InpaintingLoss
from .fidelity import FidelityLoss
from .multiscale import MultiScaleLoss, balanced_bce_with_logits
from .perceptual import FeatureExtractor, PerceptualLoss
from .pixel import MaskedL1

__all__ = ["InpaintingLoss", "MaskedL1", "PerceptualLoss", "FeatureExtractor", "NonSaturatingAdversarial",
           "PatchDiscriminator", "MultiScaleLoss", "FidelityLoss", "balanced_bce_with_logits", "sobel_edges"]
