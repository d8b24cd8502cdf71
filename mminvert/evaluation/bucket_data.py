"""The data evaluation scores: the DataModule of a data config at the model's resolution, and the fixed mask set of
one hole-ratio bucket. The images of a bucket come from `InpaintingDataModule.build("test", eval_masks=...)`, the
same builder validation and test use, so evaluation cannot drift from them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ..data import EvalMaskSet, eval_mask_set

__all__ = ["datamodule", "bucket_masks", "hole_ratio_summary"]


def datamodule(data: DictConfig, resolution: int) -> Any:
    """The DataModule of data config `data`, building its splits at `resolution` px (the model's)."""
    dm = instantiate(data)
    dm.resolution = int(resolution)
    return dm


def bucket_masks(cfg: DictConfig, resolution: int, bucket: str, count: int, seed: int, ratio: str) -> EvalMaskSet:
    """The first `count` fixed evaluation masks of `bucket` at `resolution` px, made if needed: the versioned set
    under `paths.data_dir`/eval_masks, or, for sets the repository does not ship, under `paths.cache_dir`/eval_masks."""
    cache = OmegaConf.select(cfg, "paths.cache_dir")
    return eval_mask_set(Path(str(cfg.paths.data_dir)) / "eval_masks", resolution, bucket, count=count, seed=seed,
                         ratio=ratio, cache_root=Path(str(cache)) / "eval_masks" if cache else None).ensure()


def hole_ratio_summary(masks: EvalMaskSet, n: int) -> dict[str, float]:
    """min / median / max hole ratio of the first n masks of a set (from its manifest), rounded to 4 places."""
    r = np.asarray(masks.hole_ratios()[:n], dtype=np.float64)
    return {"min": round(float(r.min()), 4), "median": round(float(np.median(r)), 4), "max": round(float(r.max()), 4)}
