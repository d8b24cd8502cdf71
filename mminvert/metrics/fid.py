"""Fréchet Inception Distance with streaming statistics (nothing but running sums held in memory)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .inception import InceptionFeatures

__all__ = ["FeatureStatistics", "frechet_distance", "FID"]


class FeatureStatistics:
    """Running mean and covariance of feature vectors, in float64."""

    def __init__(self, dim: int | None = None) -> None:
        self.n = 0
        self.sum = self.outer = None
        if dim is not None:
            self._allocate(dim)

    def _allocate(self, dim: int) -> None:
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, feats: Tensor) -> None:
        f = feats.detach().to("cpu", torch.float64)
        if self.sum is None:
            self._allocate(f.shape[1])
        self.n += f.shape[0]
        self.sum += f.sum(0)
        self.outer += f.t() @ f

    def mean_cov(self) -> tuple[Tensor, Tensor]:
        if self.n < 2:
            raise ValueError(f"need at least 2 samples for a covariance, have {self.n}")
        mu = self.sum / self.n
        cov = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu, cov


def _sqrtm_psd(a: Tensor) -> Tensor:
    vals, vecs = torch.linalg.eigh(a)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.t()


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    """‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½), with tr (Σ₁Σ₂)^½ = tr (Σ₁^½ Σ₂ Σ₁^½)^½ (symmetric, stable)."""
    s1 = _sqrtm_psd(cov1)
    m = s1 @ cov2 @ s1
    tr_sqrt = torch.linalg.eigvalsh((m + m.t()) / 2).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * tr_sqrt)


class FID(nn.Module):
    """Streaming FID between real and generated images (B, 3, H, W) in [-1, 1].

    `update(images, real=True|False)`, `compute() -> float`, `reset()`. `info` records the weights and
    resize filter, for results files.
    """

    def __init__(self, weights_path: str | None = None, features: nn.Module | None = None) -> None:
        super().__init__()
        self.features = features if features is not None else InceptionFeatures(weights_path)
        self.info = dict(getattr(self.features, "info", {}))
        self.reset()

    def reset(self) -> None:
        self.real, self.fake = FeatureStatistics(), FeatureStatistics()

    def update(self, images: Tensor, real: bool) -> None:
        (self.real if real else self.fake).update(self.features(images))

    def compute(self) -> float:
        return frechet_distance(*self.real.mean_cov(), *self.fake.mean_cov())
