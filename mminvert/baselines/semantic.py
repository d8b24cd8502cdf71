"""Semantic guidance terms for optimisation-based inversion (Wauquiez, "Image Inpainting using the
Latent space of StyleGAN2", §semantic constraints): steer what the generator paints into the hole.

Each term maps the generated image (B, 3, R, R) in [-1, 1] to a weighted per-sample loss (B,), so it can
be added to `OptimInversion(..., guidance=[...])`. The networks (an attribute classifier, a CLIP image
encoder) are frozen and come from the user: an `nn.Module`, or a TorchScript file path.
- `AttributeGuidance`: multi-label classifier logits f(x) pushed toward target attributes a ∈ {0, 1}
  with a BCE that stops pulling once an attribute is satisfied to within ε. Default: Wauquiez's smooth
  relaxation log(exp(BCE) + exp(ε)), i.e. τ·log(exp(BCE/τ) + exp(ε/τ)) with τ = 1; a smaller τ approaches
  the hard margin max(BCE, ε) ("hinge"), also available.
- `TextGuidance`: 1 − cos(E(x), t) between a CLIP-style image embedding and a target text embedding t
  computed beforehand (e.g. CLIP's `encode_text` of a prompt, saved with `torch.save`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..io.torchscript import frozen_network

__all__ = ["AttributeGuidance", "TextGuidance", "CLIP_MEAN", "CLIP_STD"]

NetworkLike = nn.Module | str | Path
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _frozen(net: NetworkLike) -> nn.Module:
    return frozen_network(net, "guidance network")


class _ImageInput(nn.Module):
    """[-1, 1] images -> the network's input: bilinear resize to `size` (None = as is), mean/std."""

    def __init__(self, size: int | None, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.size is not None and x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return ((x + 1) / 2 - self.mean) / self.std


class AttributeGuidance(nn.Module):
    """weight · mean_k relax(BCE(f(x)_k, a_k)) over the constrained attributes k: (B,).

    `targets` (K,) in {0, 1}, or NaN for attributes left free; the classifier returns logits (B, K).
    `relaxation`: "logsumexp" (default) = τ·log(exp(BCE/τ) + exp(ε/τ)) (smooth, ≥ both; τ = `temperature`,
    1 as Wauquiez writes it: log(exp(BCE) + exp(ε))); "hinge" = max(BCE, ε).
    """

    def __init__(self, classifier: NetworkLike, targets: Sequence[float] | Tensor, weight: float = 1.0,
                 epsilon: float = 0.05, relaxation: str = "logsumexp", temperature: float = 1.0,
                 input_size: int | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        if relaxation not in ("hinge", "logsumexp"):
            raise ValueError(f"relaxation must be 'hinge' or 'logsumexp', got {relaxation!r}")
        if epsilon < 0 or temperature <= 0:
            raise ValueError(f"need epsilon >= 0 and temperature > 0, got {epsilon}, {temperature}")
        t = torch.as_tensor(targets, dtype=torch.float32).flatten()
        free = torch.isnan(t)
        if free.all() or not torch.isin(t[~free], torch.tensor([0.0, 1.0])).all():
            raise ValueError(f"targets must be 0, 1 or NaN (free), with at least one constrained; got {t.tolist()}")
        self.classifier = _frozen(classifier)
        self.prepare = _ImageInput(input_size, mean, std)
        self.register_buffer("targets", torch.nan_to_num(t), persistent=False)
        self.register_buffer("constrained", (~free).float(), persistent=False)
        self.weight, self.epsilon, self.relaxation, self.temperature = weight, epsilon, relaxation, temperature

    def relax(self, bce: Tensor) -> Tensor:
        eps = torch.full_like(bce, self.epsilon)
        if self.relaxation == "hinge":
            return torch.maximum(bce, eps)
        return self.temperature * torch.logaddexp(bce / self.temperature, eps / self.temperature)

    def forward(self, image: Tensor) -> Tensor:
        logits = self.classifier(self.prepare(image))
        if logits.ndim != 2 or logits.shape[1] != self.targets.numel():
            raise ValueError(f"classifier must return logits (B, {self.targets.numel()}), got {tuple(logits.shape)}")
        bce = F.binary_cross_entropy_with_logits(logits, self.targets.expand_as(logits), reduction="none")
        per_attribute = self.relax(bce) * self.constrained
        return self.weight * per_attribute.sum(1) / self.constrained.sum()


class TextGuidance(nn.Module):
    """weight · (1 − cos(E(x), t)): (B,). `image_encoder` maps CLIP-normalised images to (B, D)
    embeddings; `text_embedding` (D,) or (1, D) — a tensor or a `torch.save`d file."""

    def __init__(self, image_encoder: NetworkLike, text_embedding: Tensor | str | Path, weight: float = 1.0,
                 input_size: int | None = 224, mean: Sequence[float] = CLIP_MEAN,
                 std: Sequence[float] = CLIP_STD) -> None:
        super().__init__()
        if not torch.is_tensor(text_embedding):
            text_embedding = torch.load(Path(text_embedding).expanduser(), map_location="cpu", weights_only=True)
        t = text_embedding.detach().float().reshape(-1)
        self.image_encoder = _frozen(image_encoder)
        self.prepare = _ImageInput(input_size, mean, std)
        self.register_buffer("text", F.normalize(t, dim=0), persistent=False)
        self.weight = weight

    def forward(self, image: Tensor) -> Tensor:
        emb = self.image_encoder(self.prepare(image)).float()
        if emb.ndim != 2 or emb.shape[1] != self.text.numel():
            raise ValueError(f"image encoder must return (B, {self.text.numel()}) embeddings, got {tuple(emb.shape)}")
        return self.weight * (1 - F.normalize(emb, dim=1) @ self.text)
