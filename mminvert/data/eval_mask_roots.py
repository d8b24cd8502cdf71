"""Where a fixed evaluation mask set lives: the committed sets stay where they are (data/eval_masks), new ones go to
the cache folder.

The repository ships complete sets for some (resolution, bucket) pairs under `data/eval_masks`; evaluation of another
resolution or bucket, or of more masks than a committed set holds, generates its set under `cache_root`
(`paths.cache_dir`/eval_masks: `$MMINVERT_CACHE`, else `$XDG_CACHE_HOME/mminvert`, else `~/.cache/mminvert`), so no
file appears in the working tree. Mask i depends only on (seed, i), so a set made in the cache holds the same first
masks as the committed one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .eval_masks import EvalMaskSet
from .masks import MASKS_VERSION

__all__ = ["eval_mask_set"]


def _complete(masks: EvalMaskSet) -> bool:
    """Whether `masks` already exists on disk with these parameters and at least `count` masks."""
    try:
        m = json.loads(masks.manifest_path.read_text())
    except (OSError, ValueError):
        return False
    return (m.get("seed"), m.get("generator_version"), m.get("resolution"), m.get("ratio", "lowest")) == (
        masks.seed, MASKS_VERSION, masks.resolution, masks.ratio) and int(m.get("count", 0)) >= masks.count


def eval_mask_set(root: str | os.PathLike, resolution: int, bucket: str | tuple[float, float], count: int = 1000,
                  seed: int = 2025, ratio: str = "lowest", cache_root: str | os.PathLike | None = None) -> EvalMaskSet:
    """The EvalMaskSet under `root` when it is complete there, else the one under `cache_root` (made by `ensure()`
    when missing). Without `cache_root`, the set under `root`."""
    masks = EvalMaskSet(root, resolution, bucket, count=count, seed=seed, ratio=ratio)
    if cache_root is None or _complete(masks):
        return masks
    return EvalMaskSet(Path(cache_root), resolution, bucket, count=count, seed=seed, ratio=ratio)
