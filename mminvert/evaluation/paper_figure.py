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
from omegaconf import OmegaConf

from ..data.guidance import guided_batch
from ..inference.bundle import load_bundle
from ..io import resolve_checkpoint
from ..io.atomic import atomic_write_text
from .bucket_data import bucket_masks, datamodule
from .images import to_rgb8, write_png
from .paper_table import collect_sweep
from .row_record import read_row_record

__all__ = ["rows_figure"]


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
    dm = datamodule(cfg.data, R)
    masks = bucket_masks(cfg, R, bucket, count, mask_seed, mask_ratio)
    ds = dm.build("test", eval_masks=masks, count=count)  # the evaluation's images and masks
    batch = torch.utils.data.default_collate([ds[i] for i in range(count)])
    outs = [model(guided_batch(batch, guidance, dm.edges))["composite"].float() for _, model, guidance in models]
    lines = []
    for i in range(count):
        cells = [to_rgb8(batch["image"][i] * batch["mask"][i]), *(to_rgb8(o[i]) for o in outs),
                 to_rgb8(batch["image"][i])]
        lines.append(np.concatenate(cells, axis=1))
    out = write_png(np.concatenate(lines, axis=0), out_path)
    header = ["input"] + [label for label, _, _ in models] + ["ground truth"]
    atomic_write_text(out.with_suffix(".txt"), f"{sweep.table.title}, bucket {bucket}; columns: " + " | ".join(header) + "\n")
    return out
