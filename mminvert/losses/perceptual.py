"""Perceptual losses on frozen feature extractors: `hrf` (dilated ResNet-50, LaMa's high receptive
field loss), `vgg` (VGG-19 relu features, L1) and `lpips` (LPIPS-VGG with its learned linear layers).

Backbone weights come from a configured path, $MMINVERT_WEIGHTS or the torch hub cache (see
io/aux_weights.py). `pretrained: false` uses random backbone weights drawn from a fixed seed — a
degraded mode for tests and smoke runs, announced with a warning. Either way the frozen backbone is
rebuilt on construction, so it is kept out of state dicts and checkpoints (utils/not_checkpointed.py).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from ..io.aux_weights import load_lpips_backbone, resolve_weights
from ..utils.not_checkpointed import not_checkpointed

__all__ = ["PerceptualLoss", "FeatureExtractor"]

log = logging.getLogger(__name__)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_VGG19_TAPS = (3, 8, 17, 26, 35)  # relu1_2, relu2_2, relu3_4, relu4_4, relu5_4
RANDOM_BACKBONE_SEED = 0  # `pretrained: false`: the same random features in every run and on resume


class FeatureExtractor(nn.Module):
    """Frozen backbone: image (B, 3, H, W) in [-1, 1] -> list of feature maps."""

    def __init__(self, backbone: str = "hrf", pretrained: bool = True, weights_path: str | None = None) -> None:
        super().__init__()
        if backbone not in ("hrf", "vgg"):
            raise ValueError(f"backbone must be 'hrf' or 'vgg', got {backbone!r}")
        name = "resnet50" if backbone == "hrf" else "vgg19"
        path = resolve_weights(name, weights_path) if pretrained else None  # fail before building anything
        with _seeded(RANDOM_BACKBONE_SEED):
            self._build(backbone, name, path)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False).eval()

    def _build(self, backbone: str, name: str, path: Path | None) -> None:
        if backbone == "hrf":
            net = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
            self._load(net, name, path)
            self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
            self.stages = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        elif backbone == "vgg":
            net = torchvision.models.vgg19(weights=None)
            self._load(net, name, path)
            feats = net.features[: _VGG19_TAPS[-1] + 1]
            self.stem = nn.Identity()
            bounds = (0,) + tuple(t + 1 for t in _VGG19_TAPS)
            self.stages = nn.ModuleList(feats[a:b] for a, b in zip(bounds[:-1], bounds[1:]))

    @staticmethod
    def _load(net: nn.Module, name: str, path: Path | None) -> None:
        if path is None:
            log.warning("perceptual loss: %s backbone has random weights (pretrained: false)", name)
            return
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    def train(self, mode: bool = True) -> "FeatureExtractor":
        return super().train(False)  # batch-norm statistics stay frozen

    def forward(self, x: Tensor) -> list[Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        x = self.stem(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


class PerceptualLoss(nn.Module):
    """Perc(ŷ, y): `hrf` = Σ_l mean((φ_l(ŷ) − φ_l(y))²) (LaMa), `vgg` = Σ_l mean|φ_l(ŷ) − φ_l(y)|,
    `lpips` = LPIPS-VGG distance. `__call__(out, batch)` compares out['image'] with batch['image'];
    `distance(x, y)` compares any two image batches in [-1, 1] (used by the multi-scale term)."""

    def __init__(self, backbone: str = "hrf", weight: float = 1.0, pretrained: bool = True,
                 weights_path: str | None = None) -> None:
        super().__init__()
        self.backbone, self.weight = backbone, weight
        if backbone == "lpips":
            import lpips  # heavy import; only when used

            with _seeded(RANDOM_BACKBONE_SEED):
                self.net = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
            if pretrained:
                sd = torch.load(resolve_weights("vgg16", weights_path), map_location="cpu", weights_only=True)
                load_lpips_backbone(self.net.net, sd)
            else:
                log.warning("perceptual loss: LPIPS backbone has random weights (pretrained: false)")
            self.net.requires_grad_(False).eval()
        else:
            self.net = FeatureExtractor(backbone, pretrained, weights_path)
        not_checkpointed(self.net)

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        if self.backbone == "lpips":
            return self.net(x, y, normalize=False).mean()
        fx = self.net(x)
        with torch.no_grad():
            fy = self.net(y)
        if self.backbone == "hrf":
            return sum(F.mse_loss(a, b) for a, b in zip(fx, fy))
        return sum(F.l1_loss(a, b) for a, b in zip(fx, fy))

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor]) -> Tensor:
        return self.distance(out["image"], batch["image"])


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Draw random initialisations from `seed` without touching the caller's global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield

