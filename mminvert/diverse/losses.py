"""Objective of the diverse-inpainting method (Yildirim et al., ICCV 2023), two paths per step on generated data:

    L_rg  = ‖I_g^o − I_g‖₂ + VGG(I_g^o, I_g)                  path (a): W^enc mixed with Ma(z_g)
    L_rr  = ‖M ⊙ I_r^o − M ⊙ I_g‖₂ + VGG(M ⊙ I_r^o, M ⊙ I_g)  path (b): W^enc mixed with Ma(z_r), known pixels only
    L_adv = softplus(−D(I_g^f)) + softplus(−D(I_r^f))          composites against the real I_g
    L     = λ_rg·L_rg + λ_rr·L_rr + λ_adv·L_adv;  λ_rg = λ_rr = 1, λ_adv = 0.08, pixel 1, VGG 5e-5 (the paper's)

‖·‖₂ is taken as the mean squared error (our reading). The VGG distance is `mminvert.losses.PerceptualLoss`
(backbone `vgg`: L1 between VGG-19 relu features; ImageNet weights when available, `pretrained: false` = random
features, the offline mode). With real training images (`data_source: real`) there is no z_g: the one path mixes
W^enc with a random Ma(z_r) and is reconstructed against the whole real image (`rec`).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import Tensor, nn

from ..losses import PerceptualLoss
from ..utils.precision import autocast_off

__all__ = ["DiverseLoss", "CompositeAdversarial"]

log = logging.getLogger(__name__)


class CompositeAdversarial(nn.Module):
    """Non-saturating GAN loss on composites with a StyleGAN2 discriminator, lazy R1 on the real images.

    generator: mean over the fakes of softplus(−D(f)); discriminator: softplus(−D(real)) + mean over the fakes of
    softplus(D(f)) (+ γ/2·‖∇D(real)‖² every `r1_interval` steps, scaled by the interval)."""

    def __init__(self, discriminator: nn.Module, weight: float = 0.08, r1_gamma: float = 10.0,
                 r1_interval: int = 16) -> None:
        super().__init__()
        self.discriminator, self.weight = discriminator, float(weight)
        self.r1_gamma, self.r1_interval = float(r1_gamma), int(r1_interval)

    def forward(self, fakes: Sequence[Tensor]) -> Tensor:
        """Generator loss (unweighted)."""
        return sum(F.softplus(-self.discriminator(f)).mean() for f in fakes) / len(fakes)  # [paper:diverse-L_adv]

    def discriminator_loss(self, real: Tensor, fakes: Sequence[Tensor], step: int) -> dict[str, Tensor]:
        """{'d_real', 'd_fake', 'r1' (when due)}: sum them for the discriminator's update."""
        do_r1 = self.r1_gamma > 0 and step % self.r1_interval == 0
        real = real.detach().requires_grad_(do_r1)
        with autocast_off(real.device) if do_r1 else contextlib.nullcontext():  # R1's double backward in fp32
            logits_real = self.discriminator(real.float() if do_r1 else real)
        d_fake = sum(F.softplus(self.discriminator(f.detach())).mean() for f in fakes) / len(fakes)
        losses = {"d_real": F.softplus(-logits_real).mean(), "d_fake": d_fake}
        if do_r1:
            with autocast_off(real.device):
                (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
                losses["r1"] = self.r1_gamma / 2 * grad.float().square().sum(dim=[1, 2, 3]).mean() * self.r1_interval
        return losses


class DiverseLoss(nn.Module):
    """`perceptual` and `adversarial`: built modules or configs (`_target_`); a term whose `weight` is 0 or that
    is None is not built. `forward(out_a, out_b, real, mask)` -> {rg, rr, adv, total} (weighted)."""

    def __init__(self, lambda_rg: float = 1.0, lambda_rr: float = 1.0, pixel: float = 1.0,
                 perceptual: Mapping[str, Any] | PerceptualLoss | None = None,
                 adversarial: Mapping[str, Any] | CompositeAdversarial | None = None) -> None:
        super().__init__()
        self.lambda_rg, self.lambda_rr, self.pixel = float(lambda_rg), float(lambda_rr), float(pixel)
        self.perceptual: PerceptualLoss | None = _build(perceptual)
        self.adversarial: CompositeAdversarial | None = _build(adversarial)

    def reconstruction(self, pred: Tensor, target: Tensor) -> Tensor:
        """pixel·MSE(pred, target) + w_vgg·VGG(pred, target)."""
        loss = self.pixel * F.mse_loss(pred, target)
        if self.perceptual is not None:
            loss = loss + self.perceptual.weight * self.perceptual.distance(pred, target)
        return loss

    def known_pixels(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """The reconstruction of the known pixels only: the hole of `pred` has no influence."""
        return self.reconstruction(pred * mask, target * mask)  # [paper:diverse-L_rr] ‖M ⊙ I_r^o − M ⊙ I_g‖ + VGG

    def forward(self, out_a: dict[str, Any], out_b: dict[str, Any], real: Tensor, mask: Tensor) -> dict[str, Tensor]:
        losses = {"rg": self.lambda_rg * self.reconstruction(out_a["image"], real),  # [paper:diverse-L_rg]
                  "rr": self.lambda_rr * self.known_pixels(out_b["image"], real, mask)}
        if self.adversarial is not None:
            losses["adv"] = self.adversarial.weight * self.adversarial([out_a["composite"], out_b["composite"]])
        losses["total"] = sum(losses.values())
        return losses

    def real_data(self, out: dict[str, Any], real: Tensor) -> dict[str, Tensor]:
        """One path on a real image: the whole image reconstructed from W^enc mixed with a random code."""
        losses = {"rec": self.lambda_rg * self.reconstruction(out["image"], real)}
        if self.adversarial is not None:
            losses["adv"] = self.adversarial.weight * self.adversarial([out["composite"]])
        losses["total"] = sum(losses.values())
        return losses


def _build(cfg: Any) -> Any:
    if cfg is None or isinstance(cfg, nn.Module):
        return None if cfg is not None and float(getattr(cfg, "weight", 1.0)) == 0.0 else cfg
    if float(cfg.get("weight", 0.0)) == 0.0:
        return None
    return instantiate(cfg)
