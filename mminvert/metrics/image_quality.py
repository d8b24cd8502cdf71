"""Per-image reconstruction metrics on images in [-1, 1] (computed in [0, 1]): PSNR, SSIM, L1 in the hole,
and the gap of a raw generator output on the known pixels."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "ssim", "l1_hole", "known_gap"]


def _unit(x: Tensor) -> Tensor:
    return ((x.float() + 1) / 2).clamp(0, 1)


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """(B,) PSNR in dB with data range 1; identical images give +inf."""
    mse = (_unit(pred) - _unit(target)).square().flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse)


def _gaussian(window: int, sigma: float, device: torch.device) -> Tensor:
    x = torch.arange(window, dtype=torch.float32, device=device) - (window - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """(B,) mean SSIM (Wang et al. 2004): Gaussian window 11/1.5, per channel, valid region only
    (the same conventions as scikit-image with gaussian_weights=True, use_sample_covariance=False)."""
    x, y = _unit(pred), _unit(target)
    c = x.shape[1]
    g = _gaussian(window, sigma, x.device)
    kernel = (g[:, None] * g[None, :]).expand(c, 1, window, window)

    def filt(t: Tensor) -> Tensor:
        return F.conv2d(t, kernel, groups=c)

    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    c1, c2 = k1**2, k2**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def l1_hole(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """(B,) mean |ŷ − y| over hole pixels (mask = 0), in [0, 1] units; 0 where there is no hole."""
    hole = (1 - mask).expand_as(pred)
    err = ((_unit(pred) - _unit(target)).abs() * hole).flatten(1).sum(1)
    return err / hole.flatten(1).sum(1).clamp_min(1)


def known_gap(raw: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """(B,) mean |ŷ_raw − x| over known pixels (mask = 1), in [0, 1] units like `l1_hole`; 0 where nothing is known.

    `raw` is the generator's output *before* compositing: how far inversion lands from the pixels it was given
    (the "gap" that compositing hides and Poisson blending smooths over)."""
    known = mask.expand_as(raw)
    err = ((_unit(raw) - _unit(target)).abs() * known).flatten(1).sum(1)
    return err / known.flatten(1).sum(1).clamp_min(1)
