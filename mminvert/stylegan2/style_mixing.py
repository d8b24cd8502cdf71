"""Style mixing regularisation: switch from one latent to another at a random layer (StyleGAN §3.1)."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mix_styles"]


def mix_styles(w1: Tensor, w2: Tensor, num_ws: int, prob: float) -> Tensor:
    """W+ codes (B, num_ws, w_dim) from w1, w2 (B, w_dim).

    With probability `prob` per sample, entries from a cutoff drawn uniformly in [1, num_ws) on use w2;
    otherwise every entry is w1.
    """
    b = w1.shape[0]
    ws = w1.unsqueeze(1).expand(b, num_ws, -1)
    if prob <= 0 or num_ws < 2:
        return ws
    cutoff = torch.randint(1, num_ws, (b, 1), device=w1.device)
    mixed = torch.rand(b, 1, device=w1.device) < prob
    cutoff = torch.where(mixed, cutoff, torch.full_like(cutoff, num_ws))
    use_w2 = torch.arange(num_ws, device=w1.device)[None] >= cutoff  # (B, num_ws)
    return torch.where(use_w2.unsqueeze(-1), w2.unsqueeze(1), ws)
