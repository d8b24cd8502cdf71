"""LPIPS distance as a metric: pretrained backbone required (random weights refused unless allowed)."""
from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from ..io.aux_weights import MissingWeightsError, load_lpips_backbone, resolve_weights

__all__ = ["LPIPSMetric"]

log = logging.getLogger(__name__)
_TORCHVISION_NAME = {"alex": "alexnet", "vgg": "vgg16"}


class LPIPSMetric(nn.Module):
    """Mean LPIPS (Zhang et al. 2018, v0.1 linear layers) between image batches in [-1, 1]: (B,) distances."""

    def __init__(self, net: str = "alex", pretrained: bool = True, weights_path: str | None = None,
                 allow_random: bool = False) -> None:
        super().__init__()
        import lpips  # heavy import; only when used

        if net not in _TORCHVISION_NAME:
            raise ValueError(f"net must be one of {sorted(_TORCHVISION_NAME)}, got {net!r}")
        self.model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        self.pretrained = False
        if pretrained:
            try:
                sd = torch.load(resolve_weights(_TORCHVISION_NAME[net], weights_path), map_location="cpu",
                                weights_only=True)
                load_lpips_backbone(self.model.net, sd)
                self.pretrained = True
            except MissingWeightsError:
                if not allow_random:
                    raise
        if not self.pretrained:
            if not allow_random:
                raise ValueError("LPIPS with a random backbone is not a metric; pass allow_random=True to accept it")
            log.warning("LPIPS metric uses a random %s backbone (allow_random=True): numbers are not comparable", net)
        self.net_name = net
        self.model.requires_grad_(False).eval()

    @torch.no_grad()
    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.model(x.float(), y.float(), normalize=False).flatten()
