"""One metric suite for validation and `evaluate.py`, so both report the same numbers.

`update(pred, target, mask, seg_logits=None, seg_target=None)` with images (B, 3, H, W) in [-1, 1]
(pred = the composite output), mask (B, 1, H, W) 1 = known; `compute()` -> {name: value}; `reset()`.
Inception features are extracted once per batch and shared by FID and P-IDS/U-IDS.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .fid import FeatureStatistics, frechet_distance
from .image_quality import l1_hole, psnr, ssim
from .miou import ConfusionMatrix
from .pids import IDS

__all__ = ["InpaintingMetrics", "AVAILABLE_METRICS"]

AVAILABLE_METRICS = ("fid", "p_ids", "u_ids", "lpips", "ssim", "psnr", "l1_hole", "miou")


def _device_of(net: Any, fallback: Tensor) -> torch.device:
    """The device of `net`'s first parameter or buffer (`fallback`'s device for a network without any)."""
    if isinstance(net, torch.nn.Module):
        for t in (*net.parameters(), *net.buffers()):
            return t.device
    return fallback.device


class InpaintingMetrics:
    """Streaming inpainting metrics. `inception` / `lpips` modules are built lazily when a metric needs them
    (pass instances to share them across suites)."""

    def __init__(self, metrics: Sequence[str] = ("ssim", "psnr", "l1_hole"), num_classes: int = 0,
                 inception: torch.nn.Module | None = None, lpips: torch.nn.Module | None = None,
                 fid_weights: str | None = None, lpips_net: str = "alex", lpips_allow_random: bool = False) -> None:
        unknown = sorted(set(metrics) - set(AVAILABLE_METRICS))
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; available: {AVAILABLE_METRICS}")
        self.metrics = tuple(metrics)
        self.num_classes = num_classes
        needs_inception = any(m in self.metrics for m in ("fid", "p_ids", "u_ids"))
        if needs_inception and inception is None:
            from .inception import InceptionFeatures

            inception = InceptionFeatures(fid_weights)
        if "lpips" in self.metrics and lpips is None:
            from .lpips_metric import LPIPSMetric

            lpips = LPIPSMetric(lpips_net, allow_random=lpips_allow_random)
        self.inception, self.lpips = inception, lpips
        self.info: dict[str, Any] = {}
        if inception is not None:
            self.info["inception"] = dict(getattr(inception, "info", {}))
        if lpips is not None:
            self.info["lpips"] = {"net": getattr(lpips, "net_name", "?"),
                                  "pretrained": getattr(lpips, "pretrained", None)}
        self.reset()

    def to(self, device: torch.device | str) -> InpaintingMetrics:
        """Run the evaluation networks (Inception, LPIPS) on `device` (validation: the module's device);
        `update` moves the images to them."""
        for net in (self.inception, self.lpips):
            if isinstance(net, torch.nn.Module):
                net.to(device)
        return self

    def reset(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self.real_stats, self.fake_stats = FeatureStatistics(), FeatureStatistics()
        self.ids = IDS()
        self.confusion = ConfusionMatrix(self.num_classes) if self.num_classes and "miou" in self.metrics else None

    def _add(self, name: str, values: Tensor) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + float(values.double().sum())

    @torch.no_grad()
    def update(self, pred: Tensor, target: Tensor, mask: Tensor, seg_logits: Tensor | None = None,
               seg_target: Tensor | None = None, target_features: Tensor | None = None,
               pred_features: Tensor | None = None) -> None:
        """`target_features` / `pred_features`: Inception features (B, 2048) of `target` / `pred`, when the
        caller already has them (several methods evaluated on the same images, one batched forward)."""
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        self.count += pred.shape[0]
        if "psnr" in self.metrics:
            self._add("psnr", psnr(pred, target).clamp(max=100.0))  # identical images: capped at 100 dB
        if "ssim" in self.metrics:
            self._add("ssim", ssim(pred, target))
        if "l1_hole" in self.metrics:
            self._add("l1_hole", l1_hole(pred, target, mask))
        if "lpips" in self.metrics:
            on = _device_of(self.lpips, pred)
            self._add("lpips", self.lpips(pred.to(on), target.to(on)))
        if self.inception is not None:
            on = _device_of(self.inception, pred)
            fr = target_features if target_features is not None else self.inception(target.to(on))
            ff = pred_features if pred_features is not None else self.inception(pred.to(on))
            self.real_stats.update(fr)
            self.fake_stats.update(ff)
            if "p_ids" in self.metrics or "u_ids" in self.metrics:
                self.ids.update(fr, ff)
        if self.confusion is not None and seg_logits is not None and seg_target is not None:
            self.confusion.update(seg_logits.argmax(1), seg_target)

    def merge_ranks(self) -> None:
        """Under torch.distributed, make every rank's state the sum over all ranks (call on every rank before
        `compute`): counts, metric sums, the mIoU confusion matrix, the Inception feature statistics and the
        P-IDS/U-IDS features, so DDP validation reports the metrics of the whole validation set (not a mean of
        per-rank means). No-op in a single process."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        if torch.distributed.get_world_size() == 1:
            return
        state = {"count": self.count, "sums": self.sums,
                 "confusion": None if self.confusion is None else self.confusion.matrix,
                 "stats": [(s.n, s.sum, s.outer) for s in (self.real_stats, self.fake_stats)],
                 "ids": (self.ids.real, self.ids.fake)}
        states: list[Any] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(states, state)
        self.count = sum(s["count"] for s in states)
        self.sums = {}
        for s in states:
            for name, value in s["sums"].items():
                self.sums[name] = self.sums.get(name, 0.0) + value
        if self.confusion is not None:
            self.confusion.matrix = sum(s["confusion"] for s in states)
        for i, stats in enumerate((self.real_stats, self.fake_stats)):
            parts = [s["stats"][i] for s in states if s["stats"][i][0] > 0]
            stats.n = sum(p[0] for p in parts)
            stats.sum = sum(p[1] for p in parts) if parts else None
            stats.outer = sum(p[2] for p in parts) if parts else None
        self.ids.real = [a for s in states for a in s["ids"][0]]
        self.ids.fake = [a for s in states for a in s["ids"][1]]

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("no samples were added")
        out = {k: v / self.count for k, v in self.sums.items()}
        if "fid" in self.metrics:
            out["fid"] = frechet_distance(*self.real_stats.mean_cov(), *self.fake_stats.mean_cov())
        if "p_ids" in self.metrics or "u_ids" in self.metrics:
            p_ids, u_ids = self.ids.compute()
            out.update({k: v for k, v in (("p_ids", p_ids), ("u_ids", u_ids)) if k in self.metrics})
        if self.confusion is not None:
            out["miou"] = self.confusion.miou()
        return {k: out[k] for k in self.metrics if k in out}
