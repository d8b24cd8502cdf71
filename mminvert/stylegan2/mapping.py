"""StyleGAN2 mapping network z -> w, with the running mean w_avg used for truncation."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import EqualLinear

__all__ = ["MappingNetwork"]


class MappingNetwork(nn.Module):
    """Pixel-norm of z, then `num_layers` equalised-lr linear layers with leaky ReLU.

    z: (B, z_dim) -> w: (B, w_dim). Buffer `w_avg` (w_dim,) is the centre of truncation.
    """

    def __init__(self, z_dim: int = 512, w_dim: int = 512, num_layers: int = 8, lr_mul: float = 0.01) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping network needs at least one layer, got {num_layers}")
        dims = [z_dim] + [w_dim] * num_layers
        self.fcs = nn.ModuleList(
            EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, activation=True) for i in range(num_layers)
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.z_dim, self.w_dim = z_dim, w_dim

    def forward(self, z: Tensor, truncation_psi: float = 1.0) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (B, {self.z_dim}), got {tuple(z.shape)}")
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for fc in self.fcs:
            x = fc(x)
        if truncation_psi != 1.0:
            x = self.w_avg.lerp(x, truncation_psi)  # w_avg + ψ (w − w_avg)
        return x
