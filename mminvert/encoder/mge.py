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

__all__ = ["MultiModalGuidedEncoder", "encoder_input"]

IGNORE_INDEX = 255


def one_hot_seg(seg: Tensor, num_classes: int) -> Tensor:
    """(B, H, W) int64 labels with ignore_index 255 -> (B, K, H, W) float one-hot (zeros where ignored)."""
    valid = seg != IGNORE_INDEX
    if bool(((seg >= num_classes) & valid).any()):
        raise ValueError(f"segmentation label >= num_classes={num_classes} (other than ignore_index 255)")
    oh = F.one_hot(seg.clamp(max=num_classes - 1) * valid, num_classes).permute(0, 3, 1, 2).to(torch.float32)
    return oh * valid.unsqueeze(1)


def encoder_input(batch: dict[str, Tensor], num_classes: int, use_aux: bool) -> Tensor:
    """cat[x⊙M, M] and, for multi-modal models, [onehot(S)⊙M_seg, M_seg, E⊙M_edge, M_edge].

    The auxiliary masks are inputs too (our addition to the paper's list): without them an all-zero
    edge map could not be told apart from a withheld one.
    """
    image, mask = batch["image"], batch["mask"]
    parts = [image * mask, mask]
    if use_aux:
        b, _, h, w = image.shape
        m_seg = batch.get("mask_seg", mask)
        m_edge = batch.get("mask_edge", mask)
        seg = batch.get("seg")
        oh = one_hot_seg(seg, num_classes) if seg is not None else image.new_zeros(b, num_classes, h, w)
        edge = batch.get("edge", image.new_zeros(b, 1, h, w))
        parts += [oh.to(image.dtype) * m_seg, m_seg, edge * m_edge, m_edge]
    return torch.cat(parts, dim=1)  # [paper:MGE-input]


class MultiModalGuidedEncoder(nn.Module):
    """batch -> dict of per-scale lists (H/4, H/2, H): `features` (RGB branch), `rgb` (B,3,h,w) in [-1,1],
    `edge` logits (B,1,h,w), `seg` logits (B,K,h,w), `structure` P_s; plus `bottleneck` (B,C₃,H/8,W/8).

    H, W must be divisible by 4 × the largest attention patch size (16 with the default patches {2, 4}).
    """

    def __init__(
        self,
        num_classes: int = 0,
        use_aux: bool = True,
        channels: Sequence[int] = (64, 128, 256, 256),
        bottleneck: dict | None = None,
        fusion: str = "adn",
        guidance: str = "unbiased",
        heads: int = 4,
        patch_sizes: Sequence[int] = (2, 4),
    ) -> None:
        super().__init__()
        self.config = to_plain(dict(num_classes=num_classes, use_aux=use_aux, channels=list(channels),
                                    bottleneck=dict(bottleneck or {}), fusion=fusion, guidance=guidance, heads=heads,
                                    patch_sizes=list(patch_sizes)))
        if use_aux and num_classes < 1:
            raise ValueError(
                f"the multi-modal encoder (use_aux=true) needs segmentation classes, but num_classes={num_classes}. "
                "Model configs take it from data.num_classes, which is 0 for data without label maps: give the data "
                "label maps (data.source.labels_root=... data.num_classes=K), or train an RGB-only model "
                "(model=invertfill | psp, or model.encoder.use_aux=false)")
        self.num_classes, self.use_aux = num_classes, use_aux
        in_channels = 4 + (num_classes + 3 if use_aux else 0)
        self.backbone = DownBackbone(in_channels, channels)
        self.bottleneck = Bottleneck(channels[3], **dict(bottleneck or {}))
        self.decoder = MultiModalDecoder(channels, num_classes if use_aux else 0, use_aux, fusion, guidance,
                                         heads, patch_sizes)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, list[Tensor] | Tensor]:
        x = encoder_input(batch, self.num_classes, self.use_aux)
        f0, _, skips = self.backbone(x)
        f = self.bottleneck(f0)
        gt_edge = gt_seg = None
        if self.use_aux and self.decoder.guidance == "gt":
            gt_edge = batch["edge"]
            gt_seg = one_hot_seg(batch["seg"], self.num_classes)
        out: dict = self.decoder(f, skips, batch["mask"], gt_edge, gt_seg)
        out["bottleneck"] = f
        return out
