"""Adversarial term: spectral-norm PatchGAN on cat(image, edge), non-saturating loss, lazy R1."""
from __future__ import annotations

import contextlib
from typing import Any

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ..utils.precision import autocast_off

__all__ = ["PatchDiscriminator", "NonSaturatingAdversarial", "sobel_edges"]

EDGE_SOURCES = ("image", "prediction")


def sobel_edges(image: Tensor) -> Tensor:
    """Differentiable edge map of an image: (B, 3, H, W) in [-1, 1] -> (B, 1, H, W) in [0, 1].

    Sobel gradient magnitude of the luminance (in [0, 1]; kornia's normalised 3x3 Sobel, replicate
    border), scaled so that a full black-to-white step gives 1, clipped at 1."""
    gray = kornia.color.rgb_to_grayscale((image + 1) / 2)
    return (2 * kornia.filters.sobel(gray)).clamp(max=1.0)


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

    With `edge_input` the discriminator sees cat(image, edge). `edge_source` says where the edge comes from:
    - `image` (default): `sobel_edges` of that very image, for the real image and the output alike, so D
      cannot tell them apart by the kind of edge map (binary Canny vs a soft prediction); the generator's
      gradient reaches the output through its edge map too, and R1 is taken w.r.t. the real image;
    - `prediction` (before #13): the real image with its Canny map `batch['edge']`, the output with the
      model's full-resolution edge prediction σ(ê) (the real edge when the model has none).
    """

    def __init__(self, weight: float = 0.1, discriminator: nn.Module | None = None, edge_input: bool = True,
                 r1_gamma: float = 1.0, r1_interval: int = 16, width: int = 64, edge_source: str = "image") -> None:
        super().__init__()
        if edge_source not in EDGE_SOURCES:
            raise ValueError(f"edge_source must be one of {EDGE_SOURCES}, got {edge_source!r}")
        self.weight, self.edge_input, self.r1_gamma, self.r1_interval = weight, edge_input, r1_gamma, r1_interval
        self.edge_source = edge_source
        self.discriminator = discriminator or PatchDiscriminator(4 if edge_input else 3, width)

    def _fake_input(self, out: dict[str, Any], batch: dict[str, Tensor], detach: bool) -> Tensor:
        img = out["image"].detach() if detach else out["image"]
        if not self.edge_input:
            return img
        if self.edge_source == "image":
            return torch.cat([img, sobel_edges(img)], dim=1)
        edges = out.get("edge") or [None]
        edge = torch.sigmoid(edges[-1]) if edges[-1] is not None else batch["edge"]
        return torch.cat([img, edge.detach() if detach else edge], dim=1)

    def _real_input(self, batch: dict[str, Tensor], image: Tensor | None = None) -> Tensor:
        img = batch["image"] if image is None else image
        if not self.edge_input:
            return img
        edge = sobel_edges(img) if self.edge_source == "image" else batch["edge"]
        return torch.cat([img, edge], 1)

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor]) -> Tensor:
        """Generator loss (unweighted)."""
        return F.softplus(-self.discriminator(self._fake_input(out, batch, detach=False))).mean()  # [paper:L_adv]

    def discriminator_loss(self, out: dict[str, Any], batch: dict[str, Tensor], step: int) -> dict[str, Tensor]:
        """{'d_real', 'd_fake', 'r1' (when due)} — sum them for the discriminator's update."""
        do_r1 = self.r1_gamma > 0 and step % self.r1_interval == 0
        if do_r1 and self.edge_source == "image":  # D's input is a function of the image: R1 w.r.t. the image
            wrt = batch["image"].detach().requires_grad_(True)
            real = self._real_input(batch, wrt)
        else:
            real = self._real_input(batch).detach()
            wrt = real.requires_grad_(True) if do_r1 else None
        with autocast_off(real.device) if do_r1 else contextlib.nullcontext():  # R1's double backward in fp32
            logits_real = self.discriminator(real.float() if do_r1 else real)
        losses = {"d_real": F.softplus(-logits_real).mean(),
                  "d_fake": F.softplus(self.discriminator(self._fake_input(out, batch, detach=True))).mean()}
        if do_r1:
            with autocast_off(real.device):
                (grad,) = torch.autograd.grad(logits_real.sum(), wrt, create_graph=True)
                penalty = grad.float().square().sum(dim=[1, 2, 3]).mean()
                losses["r1"] = self.r1_gamma / 2 * penalty * self.r1_interval  # [paper:R1]
        return losses
