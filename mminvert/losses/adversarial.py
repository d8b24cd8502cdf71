"""Adversarial term: spectral-norm PatchGAN on cat(image, edge), non-saturating loss, lazy R1."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["PatchDiscriminator", "NonSaturatingAdversarial"]


class PatchDiscriminator(nn.Module):
    """Five spectral-norm 4x4 convs (3 stride-2, 2 stride-1) with LeakyReLU(0.2).

    x (B, in_channels, H, W) -> patch logits (B, 1, H/8 - 2, W/8 - 2)."""

    def __init__(self, in_channels: int = 4, width: int = 64) -> None:
        super().__init__()
        chans = [in_channels, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [spectral_norm(nn.Conv2d(chans[i], chans[i + 1], 4, 2 if i < 3 else 1, 1)), nn.LeakyReLU(0.2)]
        layers.append(spectral_norm(nn.Conv2d(chans[4], 1, 4, 1, 1)))
        self.net = nn.Sequential(*layers)  # [paper:discriminator]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class NonSaturatingAdversarial(nn.Module):
    """L_adv for the generator: softplus(−D(ŷ)); for D: softplus(−D(y)) + softplus(D(ŷ)) + lazy R1
    (γ/2 · ‖∇_y D(y)‖², every `r1_interval` D steps, scaled by the interval).

    With `edge_input` the discriminator sees cat(image, edge): the real image with its edge map, the
    output with the model's full-resolution edge prediction σ(ê) (the real edge when the model has none).
    """

    def __init__(self, weight: float = 0.1, discriminator: nn.Module | None = None, edge_input: bool = True,
                 r1_gamma: float = 1.0, r1_interval: int = 16, width: int = 64) -> None:
        super().__init__()
        self.weight, self.edge_input, self.r1_gamma, self.r1_interval = weight, edge_input, r1_gamma, r1_interval
        self.discriminator = discriminator or PatchDiscriminator(4 if edge_input else 3, width)

    def _fake_input(self, out: dict[str, Any], batch: dict[str, Tensor], detach: bool) -> Tensor:
        img = out["image"].detach() if detach else out["image"]
        if not self.edge_input:
            return img
        edges = out.get("edge") or [None]
        edge = torch.sigmoid(edges[-1]) if edges[-1] is not None else batch["edge"]
        return torch.cat([img, edge.detach() if detach else edge], dim=1)

    def _real_input(self, batch: dict[str, Tensor]) -> Tensor:
        return torch.cat([batch["image"], batch["edge"]], 1) if self.edge_input else batch["image"]

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor]) -> Tensor:
        """Generator loss (unweighted)."""
        return F.softplus(-self.discriminator(self._fake_input(out, batch, detach=False))).mean()  # [paper:L_adv]

    def discriminator_loss(self, out: dict[str, Any], batch: dict[str, Tensor], step: int) -> dict[str, Tensor]:
        """{'d_real', 'd_fake', 'r1' (when due)} — sum them for the discriminator's update."""
        real = self._real_input(batch)
        do_r1 = self.r1_gamma > 0 and step % self.r1_interval == 0
        if do_r1:
            real = real.detach().requires_grad_(True)
        logits_real = self.discriminator(real)
        losses = {"d_real": F.softplus(-logits_real).mean(),
                  "d_fake": F.softplus(self.discriminator(self._fake_input(out, batch, detach=True))).mean()}
        if do_r1:
            (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
            losses["r1"] = self.r1_gamma / 2 * grad.square().sum(dim=[1, 2, 3]).mean() * self.r1_interval  # [paper:R1]
        return losses
