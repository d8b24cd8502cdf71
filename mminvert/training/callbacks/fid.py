"""Periodic FID of G_ema against the training data (metric: mminvert.metrics.FID)."""
from __future__ import annotations

import importlib
import logging
from typing import Any

import pytorch_lightning as pl
import torch

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
    `FID skipped: <reason>` is logged and training continues. Real-image statistics are computed once
    and reused. Runs on rank 0 only, with the global RNG left untouched (exact resume).

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
        if not trainer.is_global_zero:
            return
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
        if self.skip_reason is not None:
            log.warning("FID skipped: %s", self.skip_reason)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        if self.metric is None or self.every_n_steps <= 0 or trainer.global_step % self.every_n_steps:
            return
        fid = self.compute(trainer, pl_module)
        log.info("step %d: FID %.3f (%d images)", trainer.global_step, fid, self.num_images)
        pl_module.log("train/fid", fid, on_step=True, on_epoch=False, rank_zero_only=True)

    @torch.no_grad()
    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> float:
        with torch.random.fork_rng(devices=[]):
            self.metric.reset()
            if self._real_stats is None or not hasattr(self.metric, "real"):
                self._update_reals(trainer, pl_module)
                self._real_stats = getattr(self.metric, "real", None)
            else:
                self.metric.real = self._real_stats
            self._update_fakes(pl_module)
            return float(self.metric.compute())

    def _update_reals(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seen = 0
        loader = trainer.datamodule.train_dataloader() if trainer.datamodule is not None else trainer.train_dataloader
        for batch in loader:
            real = batch["image"] if isinstance(batch, dict) else batch[0] if isinstance(batch, (list, tuple)) else batch
            real = real[: self.num_images - seen]
            self.metric.update(real.to(pl_module.device), real=True)
            seen += real.shape[0]
            if seen >= self.num_images:
                break

    def _update_fakes(self, pl_module: pl.LightningModule) -> None:
        g = pl_module.g_ema
        gen = torch.Generator(device="cpu").manual_seed(123)
        for start in range(0, self.num_images, self.batch_size):
            z = torch.randn(min(self.batch_size, self.num_images - start), g.z_dim, generator=gen)
            self.metric.update(g(z.to(pl_module.device), noise_mode="const"), real=False)
