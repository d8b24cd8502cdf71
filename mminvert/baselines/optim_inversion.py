"""Optimisation-based GAN inversion for inpainting (Wauquiez, "Image Inpainting using the Latent space
of StyleGAN2"): per image, optimise the W+ code of a frozen StyleGAN2 so that its output matches the
known pixels, then fill the hole with the generator's output.

No training; every image costs `steps` generator forward + backward passes (see
benchmarks/bench_inference.py for the price against the encoder-based model).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..stylegan2 import StyleGAN2Generator
from .inputs import PerImageInversion, mean_latent_start, prepare_inputs

__all__ = ["OptimInversion"]

# A perceptual term: a module with `distance(x, y)` (mminvert.losses.PerceptualLoss), an
# mminvert.metrics.LPIPSMetric (its inner network is used, the metric itself is gradient-free), or any
# LPIPS-like callable `f(x, y)` returning per-sample distances (B,) / (B, 1, 1, 1) or a batch mean.
Perceptual = nn.Module | Callable[[Tensor, Tensor], Tensor]


class OptimInversion(PerImageInversion):
    """`OptimInversion(G, ...)(image, mask) -> dict` — inpainting by W+ optimisation on a frozen generator.

    Inputs: image (B, 3, R, R) in [-1, 1] (R = G.resolution), mask (B, 1, R, R) with 1 = known, 0 = hole
    (values > 0.5 count as known). W+ (B, num_ws, w_dim) starts at G.w_avg and is optimised with Adam and
    an ExponentialLR schedule for `steps` iterations; only W+ receives gradients (the generator is frozen
    with `G.freeze()` — eval mode, no parameter gradients). With noise_mode "const" (default) a fixed
    input gives a fixed result (on a fixed thread count).

    Masked MSE as Wauquiez writes it, ‖M ⊙ (G(w) − y)‖² summed over the known values
    (`mse_reduction="sum"`, default), or its mean over them ("mean": independent of image size and hole).
    `noise_mode`: "const" (deterministic fill) or "random" — fresh per-layer noise at every step and in the
    final render, so repeated runs give different fills (the stochastic fills Wauquiez stresses); the draws
    come from `seed` (a new seed, a new fill).

    Each sample's loss is its own (per-sample masked MSE; the perceptual term
    per sample when the callable returns per-sample distances), and the batch objective is their sum, so
    the samples of a batch do not influence each other's updates.

    `guidance`: semantic terms on the generated image G(W+) — callables image -> weighted per-sample
    loss (B,), e.g. `AttributeGuidance` (classifier BCE with an ε margin) or `TextGuidance` (CLIP cosine)
    from `mminvert.baselines.semantic` — added to the objective to steer what fills the hole.

    Returns `image` (B, 3, R, R) the generator output G(W+) (not clamped), `composite`
    y ⊙ M + ŷ ⊙ (1 − M) (known pixels are the input's, bit-exact), `ws` (B, num_ws, w_dim) the final
    code, and the per-step histories (steps,) of the batch-mean `loss`, `loss_mse`, `loss_perceptual`
    and `loss_semantic` (zeros without those terms), evaluated before each update.
    """

    def __init__(self, generator: StyleGAN2Generator, steps: int = 500, lr: float = 0.03, gamma: float = 0.995,
                 lambda_mse: float = 1.0, lambda_perceptual: float = 1.0, perceptual: Perceptual | None = None,
                 betas: tuple[float, float] = (0.9, 0.999),
                 guidance: Sequence[Callable[[Tensor], Tensor]] = (), mse_reduction: str = "sum",
                 noise_mode: str = "const", seed: int = 0) -> None:
        if mse_reduction not in ("sum", "mean"):
            raise ValueError(f"mse_reduction must be 'sum' or 'mean', got {mse_reduction!r}")
        if noise_mode not in ("const", "random"):
            raise ValueError(f"noise_mode must be 'const' or 'random', got {noise_mode!r}")
        self.mse_reduction, self.noise_mode, self.seed = mse_reduction, noise_mode, seed
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if lr <= 0 or not 0 < gamma <= 1:
            raise ValueError(f"need lr > 0 and 0 < gamma <= 1, got lr={lr}, gamma={gamma}")
        self.generator = generator.freeze()
        self.steps, self.lr, self.gamma, self.betas = steps, lr, gamma, betas
        self.lambda_mse, self.lambda_perceptual = lambda_mse, lambda_perceptual
        self.perceptual = perceptual
        self._distance = self._resolve_distance(perceptual)
        self.guidance = list(guidance)
        for g in self.guidance:
            if isinstance(g, nn.Module):
                for p in g.parameters():
                    p.requires_grad_(False)
                g.eval()

    @staticmethod
    def _resolve_distance(perceptual: Perceptual | None) -> Callable[[Tensor, Tensor], Tensor] | None:
        if perceptual is None:
            return None
        if isinstance(perceptual, nn.Module):
            perceptual.requires_grad_(False).eval()
        if hasattr(perceptual, "distance"):
            return perceptual.distance
        from ..metrics.lpips_metric import LPIPSMetric

        if isinstance(perceptual, LPIPSMetric):  # its forward runs under no_grad; use the network itself
            net = perceptual.model
            return lambda x, y: net(x, y, normalize=False)
        if not callable(perceptual):
            raise TypeError(f"perceptual must be callable or have distance(x, y), got {type(perceptual).__name__}")
        return perceptual

    @staticmethod
    def _per_sample(distance: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor) -> Tensor:
        """(B,) distances; a scalar (batch-mean) result is spread evenly over the samples."""
        d = distance(x, y)
        B = x.shape[0]
        if d.ndim == 0:
            d = d.expand(B)
        elif d.shape[0] != B:
            raise ValueError(f"perceptual distance must return a scalar or (B, ...) values, got {tuple(d.shape)}")
        d = d.reshape(B, -1).mean(1)
        if torch.is_grad_enabled() and not d.requires_grad:
            raise RuntimeError("the perceptual term carries no gradient (does it run under torch.no_grad?)")
        return d

    def _perceptual_per_sample(self, x: Tensor, y: Tensor) -> Tensor:
        return self._per_sample(self._distance, x, y)  # type: ignore[arg-type]

    def invert(self, image: Tensor, mask: Tensor) -> dict[str, Any]:
        G = self.generator
        y, M, known, y_masked = prepare_inputs(G, image, mask)
        device, B = y.device, y.shape[0]
        ws = mean_latent_start(G, B)
        opt = torch.optim.Adam([ws], lr=self.lr, betas=self.betas)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.gamma)
        use_perc = self._distance is not None and self.lambda_perceptual != 0
        hist_total, hist_mse, hist_perc, hist_sem = [], [], [], []
        for g in self.guidance:
            if isinstance(g, nn.Module):
                g.to(device)

        # noise_mode="random": the per-layer noise draws come from `seed`, not the caller's RNG
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            # Wauquiez: w* = argmin_{w ∈ W+}  λ₁ ‖M ⊙ (G(w) − y)‖²  +  λ₂ LPIPS(M ⊙ G(w), M ⊙ y)  [+ Σ semantic(G(w))],
            # then x̂ = M ⊙ y + (1 − M) ⊙ G(w*).
            for _ in range(self.steps):
                out = G.synthesis(ws, noise_mode=self.noise_mode)
                mse = ((out - y).square() * M).flatten(1).sum(1)  # (B,) ‖M ⊙ (G(w) − y)‖²
                if self.mse_reduction == "mean":
                    mse = mse / known
                loss = self.lambda_mse * mse
                if use_perc:
                    perc = self._perceptual_per_sample(out * M, y_masked)
                    loss = loss + self.lambda_perceptual * perc
                else:
                    perc = torch.zeros_like(mse)
                sem = torch.zeros_like(mse)
                for g in self.guidance:
                    sem = sem + g(out).reshape(B)
                loss = loss + sem
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
                sched.step()
                hist_total.append(loss.detach().mean())
                hist_mse.append(mse.detach().mean())
                hist_perc.append(perc.detach().mean())
                hist_sem.append(sem.detach().mean())

            ws = ws.detach()
            with torch.no_grad():
                out = G.synthesis(ws, noise_mode=self.noise_mode)
        out = out.to(image.dtype).to(image.device)
        keep = (mask > 0.5).to(image.device)
        composite = torch.where(keep, image, out)  # bit-exact known pixels

        def stack(h: list[Tensor]) -> Tensor:
            return torch.stack(h).cpu() if h else torch.zeros(0)

        return {"image": out, "composite": composite, "ws": ws.to(image.device), "loss": stack(hist_total),
                "loss_mse": stack(hist_mse), "loss_perceptual": stack(hist_perc), "loss_semantic": stack(hist_sem)}
