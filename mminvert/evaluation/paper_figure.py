"""The same inputs through every row of a finished paper-table sweep: one PNG, a row per input image.

Columns: masked input, then each table row's composite (first seed, the paper's row order), then the ground
truth. Images and masks are those of the evaluation (the job's data config, test split, the fixed evaluation
masks of one hole-ratio bucket), so the figure shows what the table measured.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from ..data import InpaintingDataset, eval_mask_set
from ..data.guidance import guided_batch
from ..inference.bundle import load_bundle
from ..io import resolve_checkpoint
from .paper_table import collect_sweep
from .row_record import read_row_record

__all__ = ["rows_figure"]


def _rgb(x: torch.Tensor) -> np.ndarray:
    return ((x.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def _evaluated(job: Path) -> tuple[str, str]:
    """(checkpoint, guidance) of the job's evaluation (its results.json), so the figure shows the measured weights
    given what the table's row was given (results.json without `guidance`: the standard setting)."""
    record = read_row_record(job) or {}
    payload = json.loads((job / str(record.get("results", ""))).read_text())
    return payload["checkpoint"], payload.get("guidance", {}).get(payload.get("model_method"), "none")


@torch.no_grad()
def rows_figure(sweep_dir: str | os.PathLike, out_path: str | os.PathLike, bucket: str = "0.4-0.6",
                count: int = 4, mask_seed: int = 2025, mask_ratio: str = "spread") -> Path:
    """Render the first `count` test images of `bucket` through each row's final weights -> PNG path.
    The header order (columns) is written beside it as `<out>.txt`."""
    sweep = collect_sweep(sweep_dir)
    rows = [(r.label, sweep.jobs[r.id][0][2]) for r in sweep.table.rows]
    cfg = OmegaConf.load(Path(rows[0][1]) / "config.yaml")
    evaluated = [(label, *_evaluated(folder)) for label, folder in rows]
    models = [(label, load_bundle(resolve_checkpoint(ckpt), map_location="cpu").eval(), guidance)
              for label, ckpt, guidance in evaluated]
    R = models[0][1].generator.resolution
    dm = instantiate(cfg.data)
    dm.resolution = R
    source = dm.source_factory(split="test", resolution=R)
    cache = OmegaConf.select(cfg, "paths.cache_dir")
    masks = eval_mask_set(Path(str(cfg.paths.data_dir)) / "eval_masks", R, bucket, count=count, seed=mask_seed,
                          ratio=mask_ratio, cache_root=Path(str(cache)) / "eval_masks" if cache else None).ensure()
    ds = InpaintingDataset(source, R, eval_masks=masks, train=False, edges=dm.edges, seed=int(cfg.seed) + 2)
    batch = torch.utils.data.default_collate([ds[i] for i in range(count)])
    outs = [model(guided_batch(batch, guidance, dm.edges))["composite"].float() for _, model, guidance in models]
    lines = []
    for i in range(count):
        cells = [_rgb(batch["image"][i] * batch["mask"][i])] + [_rgb(o[i]) for o in outs] + [_rgb(batch["image"][i])]
        lines.append(np.concatenate(cells, axis=1))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(lines, axis=0)).save(out)
    header = ["input"] + [label for label, _, _ in models] + ["ground truth"]
    out.with_suffix(".txt").write_text(f"{sweep.table.title}, bucket {bucket}; columns: " + " | ".join(header) + "\n")
    return out
