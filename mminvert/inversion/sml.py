"""Soft-update Mean Latent (SML).

Every `period` steps the target mean w̄_tgt = mean of mapping(z) over `n_samples` random z is
resampled; every step w̄_onl ← τ·w̄_tgt + (1 − τ)·w̄_onl (a DDPG-style soft update). τ = 0 keeps the
static mean latent. W+ = w' + w̄_onl. Both means are buffers: saved in checkpoints, used at inference.
The z of each resampling are drawn from a generator seeded by the step, so all DDP ranks agree.
Defaults n = 256, period K = 1000, τ = 0.005 are our choices (the paper does not give them).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["SoftMeanLatent"]


class SoftMeanLatent(nn.Module):
    """Buffers `online` (w̄_onl, (w_dim,)), `target` (w̄_tgt) and `steps` (updates done)."""

    def __init__(self, w_dim: int, tau: float = 0.005, n_samples: int = 256, period: int = 1000, seed: int = 0) -> None:
        super().__init__()
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must lie in [0, 1], got {tau}")
        self.register_buffer("online", torch.zeros(w_dim))
        self.register_buffer("target", torch.zeros(w_dim))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.tau, self.n_samples, self.period, self.seed = tau, n_samples, period, seed
        self._host_steps: int | None = None  # `steps` on the host: no device sync per training step

    def _steps(self) -> int:
        if self._host_steps is None:  # once after construction or a load_state_dict
            self._host_steps = int(self.steps)
        return self._host_steps

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._host_steps = None

    @torch.no_grad()
    def reset(self, w_mean: Tensor) -> None:
        """Start both means at `w_mean` (the generator's w_avg)."""
        self.online.copy_(w_mean)
        self.target.copy_(w_mean)
        self.steps.zero_()
        self._host_steps = 0

    @torch.no_grad()
    def sample_target(self, mapping: nn.Module, z_dim: int) -> Tensor:
        gen = torch.Generator().manual_seed(self.seed + self._steps())
        z = torch.randn(self.n_samples, z_dim, generator=gen).to(self.online.device)
        return mapping(z).mean(0)  # [paper:SML-target] w̄_tgt = mean_z mapping(z)

    @torch.no_grad()
    def update(self, mapping: nn.Module, z_dim: int) -> Tensor:
        """One training step: maybe resample the target, then the soft update. Returns w̄_onl."""
        if self.tau > 0:
            if self._steps() % self.period == 0:
                self.target.copy_(self.sample_target(mapping, z_dim))
            self.online.mul_(1 - self.tau).add_(self.target, alpha=self.tau)  # [paper:SML] τ·w̄_tgt + (1 − τ)·w̄_onl
        self.steps += 1
        self._host_steps = self._steps() + 1
        return self.online

    def extra_repr(self) -> str:
        return f"tau={self.tau}, n_samples={self.n_samples}, period={self.period}"
