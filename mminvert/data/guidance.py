"""What a model is given besides the image and the hole mask: the evaluation's guidance settings.

- `none`: standard inpainting, what a user with a photo has (the default of evaluation, validation and
  inference). The auxiliary masks are all zero, the label map all ignore (255) and the edge map all zero, so
  nothing but x ⊙ M and M reaches the model.
- `known`: the labels and edges of the known pixels. M_seg = M_edge = M, labels outside M set to ignore, and
  edges from Canny on x ⊙ M (hole at mid-grey), masked by M: nothing is computed from the hole's pixels.
- `gt`: ground truth everywhere (the paper's Table 6 "gt" setting): M_seg = M_edge = 1, the clean image's
  labels and edges.

`guided_batch` returns a new batch; the input batch (whose `seg` is still the metrics' target) is unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .edges import canny_edges
from .label_maps import IGNORE_INDEX

__all__ = ["GUIDANCE", "GUIDANCE_GIVEN", "guided_batch", "check_guidance"]

GUIDANCE = ("none", "known", "gt")
GUIDANCE_GIVEN = {  # what each setting gives the model, as results.json records it
    "none": "image and mask only (standard inpainting)",
    "known": "image, mask, and the labels and edges of the known pixels (edges by Canny on x*M)",
    "gt": "image, mask, and the ground-truth labels and edges of the whole image",
}


def check_guidance(guidance: str) -> str:
    if guidance not in GUIDANCE:
        raise ValueError(f"guidance must be one of {GUIDANCE}, got {guidance!r}")
    return guidance


def _known_edges(image: Tensor, mask: Tensor, edges: dict[str, float]) -> Tensor:
    """(B, 3, H, W) in [-1, 1], (B, 1, H, W) -> (B, 1, H, W) {0, 1}: Canny on x ⊙ M, kept on known pixels."""
    masked = ((image * mask).permute(0, 2, 3, 1).cpu().numpy() + 1) * 127.5
    rgb = masked.round().clip(0, 255).astype(np.uint8)
    out = torch.from_numpy(np.stack([canny_edges(im, **edges) for im in rgb]))[:, None]
    return out.to(mask.device, mask.dtype) * mask


def guided_batch(batch: dict[str, Any], guidance: str, edges: dict[str, float] | None = None) -> dict[str, Any]:
    """The batch as the model sees it under `guidance` (see the module docstring).

    batch: `image` (B, 3, H, W) in [-1, 1], `mask` (B, 1, H, W) {0, 1} 1 = known, `seg` (B, H, W) int64 labels
    (255 = ignore; optional), `edge` (B, 1, H, W) {0, 1} Canny of the clean image (optional). `edges`: the Canny
    settings of the data (sigma, low, high) for `known`.
    """
    check_guidance(guidance)
    image, mask = batch["image"], batch["mask"]
    b, _, h, w = image.shape
    out = dict(batch)
    seg = batch.get("seg")
    if seg is None:
        seg = torch.full((b, h, w), IGNORE_INDEX, dtype=torch.int64, device=image.device)
    if guidance == "none":
        zeros = torch.zeros_like(mask)
        out.update(seg=torch.full_like(seg, IGNORE_INDEX), edge=zeros.clone(), mask_seg=zeros, mask_edge=zeros.clone())
    elif guidance == "known":
        known = mask[:, 0] > 0.5
        out.update(seg=torch.where(known, seg, torch.full_like(seg, IGNORE_INDEX)),
                   edge=_known_edges(image, mask, dict(edges or {})), mask_seg=mask.clone(), mask_edge=mask.clone())
    else:
        ones = torch.ones_like(mask)
        edge = batch.get("edge")
        if edge is None:
            raise ValueError("guidance='gt' needs the batch's ground-truth edge map (`edge`)")
        out.update(seg=seg, edge=edge, mask_seg=ones, mask_edge=ones.clone())
    return out
