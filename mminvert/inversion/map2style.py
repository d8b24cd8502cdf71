"""map2style / map2structure: feature map -> vectors (pSp's GradualStyleBlock idea)."""
from __future__ import annotations

import math

from torch import Tensor, nn

from ..utils.area import area_resize

__all__ = ["MapToVectors", "style_groups"]


def style_groups(num_ws: int) -> tuple[int, int, int]:
    """pSp's split of the W+ codes: coarse = first 3, middle = next 4, fine = the rest."""
    if num_ws < 8:
        raise ValueError(f"the coarse/middle/fine split needs at least 8 style codes (>= 32 px), got {num_ws}")
    return 3, 4, num_ws - 7  # [paper:style-groups]


class MapToVectors(nn.Module):
    """(B, C, h, w) -> (B, n, out_dim): average-pool to at most `pool_to`², stride-2 3x3 convs +
    LeakyReLU down to 1x1, then a linear layer. Pooling first (our choice) keeps full-resolution
    inputs cheap; pSp's blocks read at most 64² features."""

    def __init__(self, in_channels: int, out_dim: int, n: int = 1, hidden: int | None = None,
                 pool_to: int = 16) -> None:
        super().__init__()
        hidden = hidden or out_dim
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(int(math.log2(pool_to))):
            layers += [nn.Conv2d(c, hidden, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c = hidden
        self.convs = nn.Sequential(*layers)
        self.linear = nn.Linear(hidden, n * out_dim)
        self.pool_to, self.n, self.out_dim = pool_to, n, out_dim

    def forward(self, x: Tensor) -> Tensor:
        x = area_resize(x, self.pool_to)  # = F.adaptive_avg_pool2d; exports to ONNX
        x = self.convs(x).flatten(1)
        return self.linear(x).view(-1, self.n, self.out_dim)
