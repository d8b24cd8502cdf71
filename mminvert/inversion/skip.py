"""F&W+ skip injection: encoder RGB-branch features -> additive features of the generator."""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["SkipInjection"]


class SkipInjection(nn.Module):
    """Zero-initialised 1x1 convs F_s (B, C_s, r, r) -> (B, G.channels[r], r, r), added to the generator's
    feature map at resolution r (the generator's largest resolutions, one per decoder scale).

    Zero initialisation makes training start from plain W+ inversion.
    """

    def __init__(self, feature_channels: Sequence[int], resolutions: Sequence[int], generator_channels: dict[int, int]) -> None:
        super().__init__()
        if len(feature_channels) != len(resolutions):
            raise ValueError("one feature width per injected resolution is needed")
        self.resolutions = [int(r) for r in resolutions]
        self.proj = nn.ModuleList(nn.Conv2d(c, generator_channels[r], 1) for c, r in zip(feature_channels, resolutions))
        for conv in self.proj:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, features: Sequence[Tensor]) -> dict[int, Tensor]:
        out = {}
        for f, r, conv in zip(features, self.resolutions, self.proj):
            if f.shape[-1] != r or f.shape[-2] != r:
                raise ValueError(f"skip feature for resolution {r} has size {tuple(f.shape[-2:])}")
            out[r] = conv(f)  # [paper:F&W+-proj] zero-initialised 1x1 projection of F_s
        return out
