"""Periodic FID of G_ema against the training data (metric: mminvert.metrics.FID)."""
from __future__ import annotations

import importlib
import logging
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Subset

__all__ = ["FIDCallback"]

log = logging.getLogger(__name__)

# Inception-v3 (299 px) forward on 2 CPU cores, one image: about 0.025 s (the 8 min per 5,000-step FID of
# 10,000 fakes + reals on a 2-core machine); a rough figure for the cost line of `enabled=auto` on CPU.
CPU_SECONDS_PER_IMAGE = 0.025


class FIDCallback(pl.Callback):
    """Every `every_n_steps` steps, FID between `num_images` G_ema samples and training images,
    logged as `train/fid` (the optimised metric of the StyleGAN2 task).

    The metric is `mminvert.metrics.FID(**metric_kwargs)` (e.g. `weights_path`), used through
    `.to(device)`, `.update(images, real: bool)` with images (B, 3, H, W) in [-1, 1], `.compute() -> float`,
    `.reset()`. When it cannot be built (no implementation, Inception weights missing), one line
    `FID skipped: <reason>` is logged and training continues.

    Reals: the first `num_images` images of the training split in index order, centre-cropped and
    un-augmented (the data module's `real_images()`), whatever the rank count; fewer images than
    `num_images` give a warning (FID is biased upwards with few reals). Their statistics are computed once
    and reused. Fakes: `num_images` G_ema samples from fixed latents (seed 123). Under DDP every rank
    embeds its share of both and the feature statistics are summed across ranks (metrics with `real` /
    `fake` FeatureStatistics, as mminvert's FID; another metric runs on rank 0 alone). The global RNG is
    left untouched (exact resume).

    `enabled`: true | false | "auto" (on when training runs on a GPU; off on CPU, where Inception on
    `num_images` fakes and reals costs minutes per evaluation: the log line says so and how to switch it on).
    """

    def __init__(self, every_n_steps: int = 5000, num_images: int = 10000, batch_size: int = 32,
                 metric_kwargs: dict[str, Any] | None = None, enabled: bool | str = True) -> None:
        super().__init__()
        self.every_n_steps, self.num_images, self.batch_size = int(every_n_steps), int(num_images), int(batch_size)
        self.metric_kwargs = dict(metric_kwargs or {})
        if not (isinstance(enabled, bool) or enabled == "auto"):
            raise ValueError(f"callbacks.fid.enabled must be true, false or auto, got {enabled!r}")
        self.enabled = enabled
        self.metric: Any = None
        self.skip_reason: str | None = None
        self._real_stats: Any = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metric, self.skip_reason, self._real_stats = None, None, None
        if self.enabled == "auto" and pl_module.device.type == "cpu":
            self.skip_reason = (f"off on CPU (callbacks.fid.enabled=auto): Inception on {self.num_images} fakes + "
                                f"{self.num_images} reals every {self.every_n_steps} steps would take about "
                                f"{2 * self.num_images * CPU_SECONDS_PER_IMAGE / 60:.0f} min each time here; "
                                "callbacks.fid.enabled=true computes it anyway")
        elif not self.enabled:
            self.skip_reason = "disabled (callbacks.fid.enabled=false)"
        else:
            try:
                fid_cls = importlib.import_module("mminvert.metrics").FID
            except (ImportError, AttributeError):
                self.skip_reason = "no FID implementation (mminvert.metrics.FID is not available)"
            else:
                try:
                    self.metric = fid_cls(**self.metric_kwargs).to(pl_module.device)
                except (FileNotFoundError, RuntimeError, OSError) as e:
                    self.skip_reason = f"FID weights unavailable: {e}"
        if self.metric is not None and not self._shared(trainer) and not trainer.is_global_zero:
            self.metric = None  # a metric without feature statistics runs on rank 0 only
        if self.skip_reason is not None and trainer.is_global_zero:
            log.warning("FID skipped: %s", self.skip_reason)

    def _shared(self, trainer: pl.Trainer) -> bool:
        """Whether the ranks share the work (summing feature statistics)."""
        return _world(trainer) > 1 and all(hasattr(self.metric, k) for k in ("real", "fake"))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        if self.metric is None or self.every_n_steps <= 0 or trainer.global_step % self.every_n_steps:
            return
        fid = self.compute(trainer, pl_module)
        if trainer.is_global_zero:
            log.info("step %d: FID %.3f (%d images)", trainer.global_step, fid, self.num_images)
        pl_module.log("train/fid", fid, on_step=True, on_epoch=False, rank_zero_only=True)

    @torch.no_grad()
    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> float:
        shared = self._shared(trainer)
        share = (_rank(trainer), _world(trainer)) if shared else (0, 1)
        with torch.random.fork_rng(devices=[]):
            self.metric.reset()
            if self._real_stats is None or not hasattr(self.metric, "real"):
                self._update_reals(trainer, pl_module, *share)
                if shared:
                    _sum_across_ranks(self.metric.real)
                self._real_stats = getattr(self.metric, "real", None)
            else:
                self.metric.real = self._real_stats
            self._update_fakes(pl_module, *share)
            if shared:
                _sum_across_ranks(self.metric.fake)
            return float(self.metric.compute())

    def _real_loader(self, trainer: pl.Trainer, rank: int, world: int) -> DataLoader | None:
        dm = trainer.datamodule
        if dm is None or not hasattr(dm, "real_images"):
            return None
        dataset = dm.real_images()
        n = min(self.num_images, len(dataset))
        if n < self.num_images and rank == 0:
            log.warning("FID: the training data has %d images, fewer than callbacks.fid.num_images=%d: the real "
                        "statistics come from %d images (FID is biased upwards with few reals)", n, self.num_images, n)
        return DataLoader(Subset(dataset, range(rank, n, world)), batch_size=self.batch_size, shuffle=False,
                          num_workers=int(getattr(dm, "num_workers", 0) or 0))

    def _update_reals(self, trainer: pl.Trainer, pl_module: pl.LightningModule, rank: int = 0, world: int = 1) -> None:
        loader = self._real_loader(trainer, rank, world)
        if loader is None:  # a data module without real_images(): its training loader, as it comes
            log.warning("FID: the data module has no real_images(); the reals come from its training loader")
            loader = trainer.datamodule.train_dataloader() if trainer.datamodule is not None else trainer.train_dataloader
        seen, limit = 0, -(-self.num_images // world) if world > 1 else self.num_images
        for batch in loader:
            real = batch["image"] if isinstance(batch, dict) else batch[0] if isinstance(batch, (list, tuple)) else batch
            real = real[: limit - seen]
            self.metric.update(real.to(pl_module.device), real=True)
            seen += real.shape[0]
            if seen >= limit:
                break

    def _update_fakes(self, pl_module: pl.LightningModule, rank: int = 0, world: int = 1) -> None:
        g = pl_module.g_ema
        gen = torch.Generator(device="cpu").manual_seed(123)
        for i, start in enumerate(range(0, self.num_images, self.batch_size)):
            # every rank draws every batch's latents (the same ones as in one process) and renders its share
            z = torch.randn(min(self.batch_size, self.num_images - start), g.z_dim, generator=gen)
            if i % world == rank:
                self.metric.update(g(z.to(pl_module.device), noise_mode="const"), real=False)


def _world(trainer: pl.Trainer) -> int:
    return int(getattr(trainer, "world_size", 1) or 1)


def _rank(trainer: pl.Trainer) -> int:
    return int(getattr(trainer, "global_rank", 0) or 0)


def _sum_across_ranks(stats: Any) -> None:
    """FeatureStatistics (n, sum, outer) summed over all ranks, in place on every rank."""
    parts: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, (stats.n, stats.sum, stats.outer))
    parts = [p for p in parts if p[0] > 0]
    stats.n = sum(p[0] for p in parts)
    stats.sum = sum(p[1] for p in parts) if parts else None
    stats.outer = sum(p[2] for p in parts) if parts else None
