"""Diversity of a method that draws several fills per input: the mean perceptual distance between fills.

diversity(x) = 2 / (K (K − 1)) · Σ_{i<j} LPIPS(ŷ_i, ŷ_j) over the K fills ŷ_1..ŷ_K of one input (the
diverse-inpainting paper reports it for K = 2). With no pretrained LPIPS backbone available (these machines
are offline), `diversity_distance` falls back to LPIPS-alex with a random backbone and names it so: such
numbers rank methods on one machine but are not comparable to the papers'.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["pairwise_diversity", "hole_l1_diversity", "diversity_lpips", "diversity_distance", "OFFLINE_FALLBACK"]

Distance = Callable[[Tensor, Tensor], Tensor]  # (B, 3, H, W), (B, 3, H, W) -> (B,)
OFFLINE_FALLBACK = "offline fallback: LPIPS-alex with a random backbone"


@torch.no_grad()
def pairwise_diversity(fills: Tensor, distance: Distance) -> Tensor:
    """fills (B, K, 3, H, W) in [-1, 1], K >= 2 -> (B,) mean distance over the K (K − 1) / 2 pairs of each input."""
    if fills.ndim != 5 or fills.shape[1] < 2:
        raise ValueError(f"fills must be (B, K >= 2, C, H, W), got {tuple(fills.shape)}")
    K = fills.shape[1]
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    d = torch.stack([distance(fills[:, i], fills[:, j]).reshape(-1).double() for i, j in pairs], dim=1)
    return d.mean(dim=1)


def hole_l1_diversity(fills: Tensor, mask: Tensor) -> Tensor:
    """fills (B, K, 3, H, W) in [-1, 1], mask (B, 1, H, W) 1 = known -> (B,): over the pairs of fills, the mean
    |ŷ_i − ŷ_j| over the hole pixels, in [0, 1] units like the hole L1 (a pixel-space diversity that needs no
    perceptual network)."""
    hole = 1 - mask
    area = hole.sum((1, 2, 3)).clamp(min=1) * fills.shape[2]
    return pairwise_diversity(fills, lambda a, b: ((a - b).abs() / 2 * hole).sum((1, 2, 3)) / area)


def diversity_lpips(samples: Sequence[Tensor], lpips: Distance) -> float:
    """Mean LPIPS over all pairs of samples of the same inputs, averaged over the batch. Each (B, 3, H, W)."""
    if len(samples) < 2:
        raise ValueError("diversity needs at least two samples per input")
    return float(pairwise_diversity(torch.stack(list(samples), dim=1), lpips).mean())


def diversity_distance(lpips: torch.nn.Module | None = None, net: str = "alex") -> tuple[torch.nn.Module, str]:
    """(distance module, its name for reports): `lpips` when given, else LPIPS-`net` with its pretrained backbone
    when the weights are found, else the offline fallback (LPIPS-alex, random backbone drawn from seed 0 without
    touching the global RNG, so every run measures with the same network)."""
    from ..io.aux_weights import MissingWeightsError
    from .lpips_metric import LPIPSMetric

    if lpips is not None and getattr(lpips, "pretrained", True):
        return lpips, f"LPIPS-{getattr(lpips, 'net_name', net)}"
    with torch.random.fork_rng(devices=[]):  # building LPIPS initialises layers: keep the caller's random stream
        try:
            return LPIPSMetric(net), f"LPIPS-{net}"
        except (MissingWeightsError, FileNotFoundError, ValueError):
            pass
        torch.manual_seed(0)
        return LPIPSMetric("alex", pretrained=False, allow_random=True), OFFLINE_FALLBACK
