"""Multi-modal Guided Encoder (MGE): backbone -> bottleneck -> multi-modal mutual decoder + heads."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils import to_plain
from .acb import Bottleneck
from .backbone import DownBackbone
from .decoder import MultiModalDecoder

__all__ = ["MultiModalGuidedEncoder", "encoder_input", "MODALITIES", "LEGACY_DEFAULTS"]

IGNORE_INDEX = 255
MODALITIES = ("seg", "edge")  # auxiliary modalities, in the order of the encoder input

# Architecture dicts stored before the ablation switches existed (bundles and training checkpoints
# saved before commit fe5d64e, e.g. tests/fixtures/legacy/) lack these keys. Those models were trained
# with the behaviour below, which differs from today's defaults for the attention gate and g₀, so
# `from_config` fills missing keys from here, not from the defaults. (`modalities` follows from their
# `use_aux`, which the constructor still accepts.)
LEGACY_DEFAULTS: dict = {"attention": True, "gate": "known_fraction"}
LEGACY_BOTTLENECK_DEFAULTS: dict = {"use_g0": False, "width": None}


def one_hot_seg(seg: Tensor, num_classes: int) -> Tensor:
    """(B, H, W) int64 labels with ignore_index 255 -> (B, K, H, W) float one-hot (zeros where ignored)."""
    valid = seg != IGNORE_INDEX
    # On CUDA the check would stall every step on a device-to-host copy; the data sets check labels on load.
    if seg.device.type == "cpu" and bool(((seg >= num_classes) & valid).any()):
        raise ValueError(f"segmentation label >= num_classes={num_classes} (other than ignore_index 255)")
    oh = F.one_hot(seg.clamp(max=num_classes - 1) * valid, num_classes).permute(0, 3, 1, 2).to(torch.float32)
    return oh * valid.unsqueeze(1)


def encoder_input(batch: dict[str, Tensor], num_classes: int, modalities: Sequence[str] = MODALITIES) -> Tensor:
    """cat[x⊙M, M] and, per modality present, [onehot(S)⊙M_seg, M_seg] (K + 1 channels) and
    [E⊙M_edge, M_edge] (2 channels), in that order.

    The auxiliary masks are inputs too (our addition to the paper's list): without them an all-zero
    edge map could not be told apart from a withheld one.
    """
    image, mask = batch["image"], batch["mask"]
    b, _, h, w = image.shape
    parts = [image * mask, mask]
    if "seg" in modalities:
        m_seg = batch.get("mask_seg", mask)
        seg = batch.get("seg")
        oh = one_hot_seg(seg, num_classes) if seg is not None else image.new_zeros(b, num_classes, h, w)
        parts += [oh.to(image.dtype) * m_seg, m_seg]
    if "edge" in modalities:
        m_edge = batch.get("mask_edge", mask)
        edge = batch.get("edge", image.new_zeros(b, 1, h, w))
        parts += [edge * m_edge, m_edge]
    return torch.cat(parts, dim=1)  # [paper:MGE-input]


def _resolve_modalities(modalities: Sequence[str] | None, use_aux: bool | None) -> list[str]:
    """The configured modalities in input order; `use_aux` (older configs) true = both, false = none."""
    if modalities is None:
        return list(MODALITIES) if use_aux is None or use_aux else []
    names = [str(m) for m in modalities]
    unknown = [m for m in names if m not in MODALITIES]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"model.encoder.modalities must be distinct names from {list(MODALITIES)}, got {names}")
    if use_aux is not None and bool(use_aux) != bool(names):
        raise ValueError(f"model.encoder.use_aux={use_aux} contradicts modalities={names}: use_aux is the older "
                         "switch (true = [seg, edge], false = []); set only modalities")
    return [m for m in MODALITIES if m in names]


class MultiModalGuidedEncoder(nn.Module):
    """batch -> dict of per-scale lists (H/4, H/2, H): `features` (RGB branch), `rgb` (B,3,h,w) in [-1,1],
    `edge` logits (B,1,h,w), `seg` logits (B,K,h,w) (None where the modality is absent), `structure` P_s;
    plus `bottleneck` (B,C₃,H/8,W/8).

    `modalities` ⊆ ('seg', 'edge'): the auxiliary inputs, decoder branches and heads ([] = single modality,
    fusion 'none'); `use_aux` is the older switch (true = both, false = none). `attention=False` drops the
    GMA attention step, `gate` picks its key gate ('learned' | 'known_fraction'); `bottleneck` takes
    type, depth, rates, use_g0, width (acb.py). H, W must be divisible by 4 × the largest attention patch
    size (16 with the default patches {2, 4}).
    """

    def __init__(
        self,
        num_classes: int = 0,
        use_aux: bool | None = None,
        channels: Sequence[int] = (64, 128, 256, 256),
        bottleneck: dict | None = None,
        fusion: str = "adn",
        guidance: str = "unbiased",
        heads: int = 4,
        patch_sizes: Sequence[int] = (2, 4),
        modalities: Sequence[str] | None = None,
        attention: bool = True,
        gate: str = "learned",
    ) -> None:
        super().__init__()
        mods = _resolve_modalities(modalities, use_aux)
        if "seg" in mods and num_classes < 1:
            raise ValueError(
                f"the multi-modal encoder reads segmentation (modalities {mods}), but num_classes={num_classes}. "
                "Model configs take it from data.num_classes, which is 0 for data without label maps: give the data "
                "label maps (data.source.labels_root=... data.num_classes=K), drop segmentation "
                "(model.encoder.modalities=[edge]), or train an RGB-only model (model=invertfill | psp, or "
                "model.encoder.modalities=[])")
        self.num_classes, self.modalities = num_classes, mods
        in_channels = 4 + (num_classes + 1 if "seg" in mods else 0) + (2 if "edge" in mods else 0)
        self.backbone = DownBackbone(in_channels, channels)
        self.bottleneck = Bottleneck(channels[3], **dict(bottleneck or {}))
        self.decoder = MultiModalDecoder(channels, num_classes, mods, fusion, guidance, heads, patch_sizes,
                                         attention=attention, gate=gate)
        self.config = to_plain(dict(num_classes=num_classes, modalities=mods, channels=list(channels),
                                    bottleneck=self.bottleneck.config, fusion=fusion, guidance=guidance, heads=heads,
                                    patch_sizes=list(patch_sizes), attention=bool(attention), gate=gate))

    @property
    def use_aux(self) -> bool:
        """True when the encoder reads any auxiliary modality (callers then supply seg / edge inputs)."""
        return bool(self.modalities)

    @classmethod
    def from_config(cls, config: dict) -> MultiModalGuidedEncoder:
        """Rebuild from a stored `config`; keys missing from older stored configs take LEGACY_DEFAULTS."""
        cfg = {**LEGACY_DEFAULTS, **dict(config)}
        cfg["bottleneck"] = {**LEGACY_BOTTLENECK_DEFAULTS, **dict(cfg.get("bottleneck") or {})}
        return cls(**cfg)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, list[Tensor] | Tensor]:
        x = encoder_input(batch, self.num_classes, self.modalities)
        f0, g0, skips = self.backbone(x)
        f = self.bottleneck(f0, g0)  # g₀ starts the ACB gating when bottleneck.use_g0
        gt_edge = gt_seg = None
        if self.decoder.guidance == "gt":
            gt_edge = batch.get("edge") if "edge" in self.modalities else None
            gt_seg = one_hot_seg(batch["seg"], self.num_classes) if "seg" in self.modalities and "seg" in batch \
                else None
        out: dict = self.decoder(f, skips, batch["mask"], gt_edge, gt_seg)
        out["bottleneck"] = f
        return out
