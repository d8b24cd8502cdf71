"""Semantic inpainting by latent optimisation with a contextual loss and a GAN prior (Yeh et al. 2017,
as used with a WGAN-GP by Vitoria et al. 2019), on a frozen generator:

    z* = argmin_z  η ‖W ⊙ (G(z) − y)‖₁  +  β ‖W ⊙ (∇G(z) − ∇y)‖₁  +  α · (−D(G(z)))

The seed's route is a WGAN-GP trained on the user's data (`python train.py task=wgan_gp`, loaded with
`mminvert.baselines.wgan_gp.load_wgan_gp`): its DCGAN generator's z space and its critic as the prior. A StyleGAN2
generator (z space, constant noise) with its discriminator works the same way.

W weights each known pixel by the fraction of hole pixels in its `window` × `window` neighbourhood (0 in
the hole), so the context next to the hole matters most; ∇ are forward differences along x and y; the
prior term needs a discriminator (α = 0 without one). The fill G(z*) is then Poisson-blended into the
known pixels (`poisson.py`), so the seam follows the image, not the generator's colours.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..stylegan2 import StyleGAN2Generator
from .inputs import PerImageInversion, check_image_and_mask
from .poisson import poisson_blend

__all__ = ["ContextualInversion", "importance_weights"]


def importance_weights(mask: Tensor, window: int = 7) -> Tensor:
    """mask (B, 1, H, W), 1 = known -> W (B, 1, H, W): per known pixel the fraction of hole pixels among
    its window × window neighbours inside the image; 0 in the hole."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    known = (mask > 0.5).float()
    frac_hole = F.avg_pool2d(1 - known, window, stride=1, padding=window // 2, count_include_pad=False)
    return frac_hole * known


def _grad_xy(x: Tensor) -> tuple[Tensor, Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


class ContextualInversion(PerImageInversion):
    """`ContextualInversion(G, D=None, ...)(image, mask) -> dict` — inpainting by z optimisation.

    G: a `StyleGAN2Generator` or a WGAN-GP `DCGANGenerator` (anything with `z_dim`, `resolution`, `freeze()`
    and `G(z, noise_mode=...)`); D: its discriminator / critic (the prior; α = 0 without one). Weights η
    (context), β (gradient), α (prior): Yeh et al.'s prior weight λ = 0.003 and β = η = 1 by default.
    Vitoria et al.'s own values of η, β, α could not be retrieved offline (docs/semantic.md §4 lists where we
    looked); pass them here (or `contextual_inversion.eta/beta/alpha`) when you have them.

    Inputs: image (B, 3, R, R) in [-1, 1], mask (B, 1, R, R) with 1 = known. z starts from N(0, I) drawn
    with `seed` and is optimised with Adam for `steps` iterations (synthesis with const noise); G and D are
    frozen. Returns `image` G(z*), `composite` (Poisson-blended when `blend`, else pasted; known pixels
    bit-exact), `z`, and per-step batch-mean histories `loss`, `loss_context`, `loss_gradient`, `loss_prior`.
    """

    def __init__(self, generator: StyleGAN2Generator | nn.Module, discriminator: nn.Module | None = None,
                 steps: int = 1000, lr: float = 0.01, alpha: float = 0.003, beta: float = 1.0, eta: float = 1.0,
                 window: int = 7, blend: bool = True, seed: int = 0) -> None:
        if steps < 0 or lr <= 0:
            raise ValueError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
        self.generator = generator.freeze()
        self.discriminator = discriminator
        if discriminator is not None:
            discriminator.requires_grad_(False).eval()
        self.steps, self.lr, self.alpha, self.beta, self.eta = steps, lr, alpha, beta, eta
        self.window, self.blend, self.seed = window, blend, seed

    def invert(self, image: Tensor, mask: Tensor) -> dict[str, Any]:
        G = self.generator
        check_image_and_mask(G, image, mask)
        device = next(iter(G.parameters())).device
        y = image.detach().to(device, torch.float32)
        W = importance_weights(mask.to(device), self.window)
        K = (mask.to(device) > 0.5).float()
        # W at the pixel a forward difference starts from, where the pixel it ends at is known too
        Wx, Wy = W[..., :, :-1] * K[..., :, 1:], W[..., :-1, :] * K[..., 1:, :]
        gy_x, gy_y = _grad_xy(y)
        B = y.shape[0]
        gen = torch.Generator().manual_seed(self.seed)
        z = torch.randn(B, G.z_dim, generator=gen).to(device).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.lr)
        use_prior = self.discriminator is not None and self.alpha != 0
        hist: dict[str, list[Tensor]] = {k: [] for k in ("loss", "loss_context", "loss_gradient", "loss_prior")}
        for _ in range(self.steps):
            out = G(z, noise_mode="const")
            context = (W * (out - y)).abs().flatten(1).sum(1)
            gx, gy = _grad_xy(out)
            gradient = (Wx * (gx - gy_x)).abs().flatten(1).sum(1) + (Wy * (gy - gy_y)).abs().flatten(1).sum(1)
            prior = -self.discriminator(out).reshape(B) if use_prior else torch.zeros_like(context)
            loss = self.eta * context + self.beta * gradient + self.alpha * prior
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            for k, v in zip(hist, (loss, context, gradient, prior)):
                hist[k].append(v.detach().mean())
        z = z.detach()
        with torch.no_grad():
            out = G(z, noise_mode="const").to(image.dtype).to(image.device)
        keep = (mask > 0.5).to(image.device)
        # both keep the known pixels bit-exact
        composite = poisson_blend(out, image, keep.to(image.dtype)) if self.blend else torch.where(keep, image, out)
        result = {k: torch.stack(v).cpu() if v else torch.zeros(0) for k, v in hist.items()}
        return {"image": out, "composite": composite, "z": z.to(image.device), **result}
