"""One hole-ratio bucket of an evaluation: every method on the bucket's fixed masks over the scored test images ->
{method: {metric: value}}, the example grid and the masks' hole ratios.

Per batch: each method's output, then (first batch of the first bucket) the edit-consistency scores, the
diversity fills, one Inception pass for the real images (unless known) and all composites, then the metrics;
optionally every composite is saved under `outputs/<method>/<bucket>/`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data import bucket_ratio
from ..metrics import InpaintingMetrics, known_gap
from .bucket_data import bucket_masks, hole_ratio_summary
from .images import to_rgb8, write_png
from .prepare import Evaluation
from .progress import Progress
from .real_features import RealFeatures

__all__ = ["BucketResult", "evaluate_bucket"]

log = logging.getLogger(__name__)


@dataclass
class BucketResult:
    """What one bucket adds to results.json and the report."""

    results: dict[str, dict[str, float]]   # {method: {metric: value}}
    grid: np.ndarray                       # (rows·R, (methods + 2)·R, 3) uint8: masked input | methods | truth
    hole_ratios: dict[str, float]          # min / median / max hole ratio of the bucket's masks


@torch.no_grad()
def _inception_features(inception: Any, real: RealFeatures, start: int, images: torch.Tensor,
                        composites: list[torch.Tensor], max_batch: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Features of a batch's real images (from `real` when known) and of every method's composites, in as
    few Inception forwards of at most `max_batch` images as possible. -> (real (B, D), [fake (B, D)])."""
    real_feats = real.get(start, images)
    todo = ([images] if real_feats is None else []) + composites
    x = torch.cat(todo)
    device = next(iter(inception.parameters()), x).device  # the network's device (CUDA when evaluating there)
    feats = torch.cat([inception(chunk.to(device)).cpu() for chunk in x.split(max(1, int(max_batch)))])
    parts = list(feats.split(images.shape[0]))
    if real_feats is None:
        real_feats = parts.pop(0)
        real.put(start, images, real_feats)
    return real_feats, parts


class _BucketScores:
    """Running scores of one bucket: a metric suite per method, each model row's summed raw gap on the known
    pixels, the first `grid_rows` example rows, and the number of images added (`count`)."""

    def __init__(self, ev: Evaluation) -> None:
        self.ev = ev
        self.suites = {m.name: InpaintingMetrics(ev.metrics, num_classes=ev.dm.num_classes, inception=ev.inception,
                                                 lpips=ev.lpips) for m in ev.methods}
        self.gap_sum = dict.fromkeys((m.name for m in ev.model_rows), 0.0)  # Σ over images of each row's raw gap
        self.examples: list[list[np.ndarray]] = []
        self.count = 0

    def update(self, batch: dict[str, Any], outs: dict[str, dict[str, Any]], real_feats: torch.Tensor | None,
               fake_feats: list[torch.Tensor | None]) -> None:
        """Add a batch (the next `B` images): `outs[method]` holds its `composite`, `raw` (model rows) and `seg`."""
        for m in self.ev.model_rows:
            self.gap_sum[m.name] += float(known_gap(outs[m.name]["raw"], batch["image"], batch["mask"]).double().sum())
        for m, feats in zip(self.ev.methods, fake_feats):
            o = outs[m.name]
            self.suites[m.name].update(o["composite"], batch["image"], batch["mask"], o["seg"], batch.get("seg"),
                                       target_features=real_feats, pred_features=feats)
        self.count += batch["image"].shape[0]

    def add_examples(self, batch: dict[str, Any], outs: dict[str, dict[str, Any]]) -> None:
        """Grid rows (masked input | each method's composite | ground truth) until `grid_rows` are there."""
        for i in range(batch["image"].shape[0]):
            if len(self.examples) < int(self.ev.cfg.grid_rows):
                masked = batch["image"][i] * batch["mask"][i]
                self.examples.append([to_rgb8(masked)] + [to_rgb8(outs[m.name]["composite"][i]) for m in self.ev.methods]
                                     + [to_rgb8(batch["image"][i])])

    def compute(self) -> dict[str, dict[str, float]]:
        """{method: {metric: value}}, with `gap` for the model rows and `diversity` when it is measured."""
        results = {name: suite.compute() for name, suite in self.suites.items()}
        for name, total in self.gap_sum.items():
            results[name]["gap"] = total / max(self.count, 1)
        if self.ev.diversity is not None:
            for name, value in self.ev.diversity.compute().items():
                results[name]["diversity"] = value
        return results

    def grid(self) -> np.ndarray:
        return np.concatenate([np.concatenate(r, axis=1) for r in self.examples], axis=0)


def _save_outputs(out_dir: Path, bucket: str, batch: dict[str, Any], outs: dict[str, dict[str, Any]]) -> None:
    """Every composite of the batch as `<out_dir>/outputs/<method>/<bucket>/<index>.png` (each written atomically)."""
    for name, o in outs.items():
        for img, idx in zip(o["composite"], batch["index"]):
            write_png(to_rgb8(img), out_dir / "outputs" / name / bucket / f"{int(idx):06d}.png")


def _score_batch(ev: Evaluation, batch: dict[str, Any], scores: _BucketScores,
                 progress: Progress) -> dict[str, dict[str, Any]]:
    """Run every method on the bucket's next batch and add it to `scores` -> the methods' outputs."""
    start = scores.count  # the batch's first image, within the bucket
    outs = {}
    for m in ev.methods:
        with progress.stage(m.name):
            outs[m.name] = m(batch)
    ecs_cfg = ev.cfg.get("ecs") or {}
    if ecs_cfg.get("edits") and not ev.ecs:  # edit-consistency on the first batch of the first bucket
        from .semantic import ecs_edit_scores

        ev.ecs = ecs_edit_scores(ecs_cfg, ev.methods, ev.model.generator, batch, ev.lpips, ev.skipped)
    if ev.diversity is not None and ev.diversity.sampling:
        with progress.stage("diversity"):
            ev.diversity.update(batch, start)
    real_feats, fake_feats = None, [None] * len(ev.methods)
    if ev.inception is not None:
        with progress.stage("inception"):
            real_feats, fake_feats = _inception_features(
                ev.inception, ev.real, start, batch["image"], [outs[m.name]["composite"] for m in ev.methods],
                int(ev.cfg.get("inception_batch_size", 64)))
    with progress.stage("metrics"):
        scores.update(batch, outs, real_feats, fake_feats)
    return outs


def evaluate_bucket(ev: Evaluation, bucket: str) -> BucketResult:
    """Score every method of `ev` on `bucket`'s fixed masks (the DataModule's test split with those masks)."""
    cfg, n = ev.cfg, ev.count
    masks = bucket_masks(cfg, ev.resolution, bucket, n, int(cfg.mask_seed),
                         bucket_ratio(bucket, str(cfg.get("mask_ratio", "spread"))))
    ratios = hole_ratio_summary(masks, n)
    log.info("bucket %s: hole ratios min %.3f / median %.3f / max %.3f (%s masks)", bucket, *ratios.values(),
             masks.ratio)
    ds = ev.dm.build("test", eval_masks=masks, count=n)
    loader = DataLoader(ds, batch_size=int(cfg.batch_size), shuffle=False, num_workers=int(cfg.num_workers))
    scores = _BucketScores(ev)
    if ev.diversity is not None:
        ev.diversity.reset()
    progress = Progress(f"bucket {bucket}", n, interval=float(cfg.get("progress_interval", 30)))
    for batch in loader:
        outs = _score_batch(ev, batch, scores, progress)
        if cfg.save_outputs:
            _save_outputs(Path(cfg.output_dir), bucket, batch, outs)
        scores.add_examples(batch, outs)
        progress.update(batch["image"].shape[0])
    if ev.real is not None:
        ev.real.finish()
    with progress.stage("metrics"):
        results = scores.compute()
    progress.close()
    for name, values in results.items():
        log.info("%s %s: %s", name, bucket, values)
    return BucketResult(results, scores.grid(), ratios)
