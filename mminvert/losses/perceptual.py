"""Perceptual losses on frozen feature extractors: `hrf` (dilated ResNet-50, LaMa's high receptive
field loss), `vgg` (VGG-19 relu features, L1), `lpips` (LPIPS-VGG with its learned linear layers) and
`stylegan2_d` (feature matching, L1, on the blocks of a trained StyleGAN2 discriminator: the offline stand-in
when no ImageNet weights can be had; `weights_path` names the discriminator, default the bundled `scenes64`;
its resolution must be the images'). Inception features are never used: they are what FID measures.

Backbone weights come from a configured path, $MMINVERT_WEIGHTS or the torch hub cache (see
io/aux_weights.py). `hrf` looks for LaMa's ADE20k resnet50dilated encoder first and falls back to the
ImageNet ResNet-50 (same dilated body, 7x7 stem), announced with one warning. `pretrained: false` uses
random backbone weights drawn from a fixed seed — a degraded mode for tests and smoke runs, announced
with a warning. Either way the frozen backbone is
rebuilt on construction, so it is kept out of state dicts and checkpoints (utils/not_checkpointed.py).
"""
from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from ..io.aux_weights import ADE20K_WEIGHTS, load_lpips_backbone, resolve_weights
from ..io.errors import CheckpointError
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
        if backbone not in ("hrf", "vgg", "stylegan2_d"):
            raise ValueError(f"backbone must be 'hrf', 'vgg' or 'stylegan2_d', got {backbone!r}")
        self.normalize = backbone != "stylegan2_d"  # ImageNet statistics; the discriminator reads [-1, 1]
        if backbone == "stylegan2_d":
            self._build_discriminator(weights_path or "scenes64", pretrained)
            return
        names = ("resnet50dilated_ade20k", "resnet50") if backbone == "hrf" else ("vgg19",)
        path = resolve_weights(names, weights_path) if pretrained else None  # fail before building anything
        state = _load_state(path) if path is not None else None
        with _seeded(RANDOM_BACKBONE_SEED):
            if backbone == "hrf":
                self._build_hrf(deep_stem=state is not None and "conv3.weight" in state)
            else:
                self._build_vgg()
        if state is None:
            log.warning("perceptual loss: %s backbone has random weights (pretrained: false)", backbone)
        else:
            self._load(state, path)
            if backbone == "hrf" and "conv3.weight" not in state:
                log.warning("perceptual loss: hrf uses the ImageNet ResNet-50 (%s) instead of LaMa's ADE20k "
                            "resnet50dilated encoder, which was not found or not configured (%s); the loss "
                            "is then not the paper's HRF loss", path, ADE20K_WEIGHTS["resnet50dilated_ade20k"])
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False).eval()

    def _build_hrf(self, deep_stem: bool) -> None:
        """Dilated ResNet-50 (output stride 8; layers 3/4 dilated 2/4 as in the MIT scene-parsing encoder).

        `deep_stem`: three 3x3 convolutions (64, 64, 128 channels) instead of the 7x7 one — the layout of
        the ADE20k `resnet50dilated` encoder LaMa's loss uses; otherwise torchvision's ResNet-50.
        """
        net = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
        if deep_stem:
            def conv_bn(cin: int, cout: int, stride: int) -> list[nn.Module]:
                return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

            layers = conv_bn(3, 64, 2) + conv_bn(64, 64, 1) + conv_bn(64, 128, 1)
            names = [f"{kind}{i}" for i in (1, 2, 3) for kind in ("conv", "bn", "relu")]
            self.stem = nn.Sequential(OrderedDict([*zip(names, layers), ("maxpool", net.maxpool)]))
            net.layer1[0].conv1 = nn.Conv2d(128, 64, 1, bias=False)
            net.layer1[0].downsample[0] = nn.Conv2d(128, 256, 1, bias=False)
        else:
            self.stem = nn.Sequential(OrderedDict(conv1=net.conv1, bn1=net.bn1, relu=net.relu, maxpool=net.maxpool))
        self.stages = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        self._key_map = _resnet_key

    def _build_discriminator(self, source: str, pretrained: bool) -> None:
        """fromrgb, then one stage per residual block of a StyleGAN2 discriminator (its trained weights)."""
        from ..io.stylegan2 import load_discriminator

        if not pretrained:
            raise ValueError("perceptual backbone 'stylegan2_d' matches the features of a trained discriminator: "
                             "it has no random-weight mode (pretrained: false)")
        d = load_discriminator(source)
        self.stem, self.stages, self.resolution = d.fromrgb, nn.ModuleList(d.blocks), int(d.resolution)
        log.info("perceptual loss: feature matching on the blocks of the StyleGAN2 discriminator %s (%d px)",
                 source, self.resolution)
        self.requires_grad_(False).eval()

    def _build_vgg(self) -> None:
        feats = torchvision.models.vgg19(weights=None).features[: _VGG19_TAPS[-1] + 1]
        self.stem = nn.Identity()
        bounds = (0,) + tuple(t + 1 for t in _VGG19_TAPS)
        self.stages = nn.ModuleList(feats[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
        self._key_map = _vgg_key(bounds)

    def _load(self, state: dict[str, Tensor], path: Path) -> None:
        own = self.state_dict()
        mapped = {}
        for key, value in state.items():
            k = self._key_map(key)
            if k is not None:
                mapped[k] = value
        unexpected = sorted(set(mapped) - set(own))
        missing = sorted(k for k in set(own) - set(mapped) if not k.endswith("num_batches_tracked"))
        wrong = sorted(k for k in set(mapped) & set(own) if mapped[k].shape != own[k].shape)
        if unexpected or missing or wrong:
            raise CheckpointError(path, f"not the expected backbone weights (missing {missing[:3]}, unexpected "
                                        f"{unexpected[:3]}, wrong shape {wrong[:3]})")
        self.load_state_dict({**own, **mapped})

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # batch-norm statistics stay frozen

    def forward(self, x: Tensor) -> list[Tensor]:
        if self.normalize:
            x = ((x + 1) / 2 - self.mean) / self.std
        elif x.shape[-1] != self.resolution:  # the multi-scale term's smaller images
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
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
            return sum(F.mse_loss(a, b) for a, b in zip(fx, fy))  # [paper:L_inp-perc] HRF (LaMa)
        return sum(F.l1_loss(a, b) for a, b in zip(fx, fy))  # vgg, stylegan2_d: L1 feature matching

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor]) -> Tensor:
        return self.distance(out["image"], batch["image"])


def _load_state(path: Path) -> dict[str, Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise CheckpointError(path, f"cannot read backbone weights ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(path, "expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _resnet_key(key: str) -> str | None:
    """torchvision / MIT scene-parsing ResNet key -> ours: layerN.* -> stages.{N-1}.*, stem parts -> stem.*"""
    head, _, rest = key.partition(".")
    if head.startswith("layer"):
        return f"stages.{int(head[5:]) - 1}.{rest}"
    if head == "fc":
        return None
    return f"stem.{key}"


def _vgg_key(bounds: tuple[int, ...]) -> Callable[[str], str | None]:
    """torchvision VGG `features.<i>.*` -> `stages.<s>.<i - bounds[s]>.*`; the classifier is dropped."""
    def key_map(key: str) -> str | None:
        parts = key.split(".")
        if parts[0] != "features" or int(parts[1]) >= bounds[-1]:
            return None
        i = int(parts[1])
        s = max(j for j in range(len(bounds) - 1) if bounds[j] <= i)
        return ".".join(["stages", str(s), str(i - bounds[s]), *parts[2:]])
    return key_map


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Draw random initialisations from `seed` without touching the caller's global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield

