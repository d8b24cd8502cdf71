"""Write evaluation results: results.json, a paper-style Markdown table, plots against hole ratio,
example grids, and report.md tying them together."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_path, atomic_write_text
from ..utils.figures import readable
from .images import write_png

__all__ = ["write_results", "markdown_table", "METRIC_LABELS"]

# (label, higher is better)
METRIC_LABELS = {"fid": ("FID", False), "lpips": ("LPIPS", False), "ssim": ("SSIM", True), "psnr": ("PSNR", True),
                 "p_ids": ("P-IDS", True), "u_ids": ("U-IDS", True), "l1_hole": ("L1 hole", False),
                 "miou": ("mIoU", True), "gap": ("gap", False),
                 "diversity": ("diversity", True)}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _bucket_label(b: str) -> str:
    lo, hi = (float(x) for x in b.split("-"))
    return f"{round(lo * 100)}–{round(hi * 100)}%"


def markdown_table(results: dict[str, dict[str, dict[str, float]]], buckets: list[str], metrics: list[str]) -> str:
    """Rows: methods; columns: each metric per bucket (arrows say which direction is better)."""
    head = ["method"] + [f"{METRIC_LABELS[m][0]}{'↑' if METRIC_LABELS[m][1] else '↓'} {_bucket_label(b)}"
                         for b in buckets for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, per_bucket in results.items():
        cells = [method]
        for b in buckets:
            for m in metrics:
                v = per_bucket.get(b, {}).get(m)
                cells.append("n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plots(results: dict, buckets: list[str], metrics: list[str], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mids = [sum(float(x) for x in b.split("-")) / 2 * 100 for b in buckets]
    files = []
    for m in metrics:
        fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
        for method, per_bucket in results.items():
            ys = [per_bucket.get(b, {}).get(m) for b in buckets]
            if all(y is not None and math.isfinite(y) for y in ys):
                ax.plot(mids, ys, marker="o", label=method)
        ax.set_xlabel("hole ratio (%)")
        ax.set_ylabel(METRIC_LABELS[m][0])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = f"plot_{m}.png"
        with atomic_path(out_dir / name) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        files.append(name)
    return files


def _diversity_note(info: dict[str, Any]) -> str:
    """The report's sentence on the diversity column: what distance, how many fills, and why rows are n/a."""
    note = (f"Diversity: mean pairwise {info.get('distance') or 'distance'} between {info.get('num_samples')} fills "
            f"per input (seed {info.get('seed')}).")
    if info.get("unavailable"):
        note += " n/a for " + "; ".join(f"{k} ({v})" for k, v in info["unavailable"].items()) + "."
    return note


def _data_line(payload: dict[str, Any]) -> str:
    """The data set scored: its description and resolution (results.json `dataset`), else the source class."""
    ds = payload.get("dataset")
    if not ds:
        return str(payload.get("data"))
    return f"{ds['description']} ({ds['split']} split, {ds['resolution']} px)"


def write_results(out_dir: str | os.PathLike, payload: dict[str, Any], grids: dict[str, np.ndarray]) -> Path:
    """payload: {'results': {method: {bucket: {metric: value}}}, 'buckets', 'metrics', ...}; grids: {bucket: (H, W, 3)
    uint8}. Every file is written atomically: readers see a complete file or none."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(_clean(payload), indent=2, sort_keys=True))
    buckets, metrics = payload["buckets"], payload["metrics"]
    table = markdown_table(payload["results"], buckets, metrics)
    atomic_write_text(out / "table.md", table)
    plots = _plots(payload["results"], buckets, metrics, out)
    grid_files = []
    for b, g in grids.items():
        name = f"examples_{b}.png"
        tile = int((payload.get("dataset") or {}).get("resolution") or 0)
        write_png(readable(g, tile) if tile else g, out / name)  # >= 256 px per image (nearest)
        grid_files.append((b, name))
    lines = ["# Evaluation report", "", f"Checkpoint: `{payload.get('checkpoint')}`  ", f"Data: {_data_line(payload)}, "
             f"{payload.get('num_images')} test images per bucket, masks: {payload.get('masks')}", ""]
    if payload.get("skipped"):
        lines += ["Skipped metrics: " + "; ".join(f"{k} ({v})" for k, v in payload["skipped"].items()), ""]
    if payload.get("notes"):
        lines += ["Notes: " + "; ".join(f"{k}: {v}" for k, v in payload["notes"].items()), ""]
    lines += ["## Table", "", table]
    if payload.get("diversity"):
        lines += [_diversity_note(payload["diversity"]), ""]
    lines += ["## Metrics against hole ratio", ""]
    lines += [f"![{p}]({p})" for p in plots]
    lines += ["", "## Examples (masked input | methods... | ground truth)", ""]
    lines += [f"{_bucket_label(b)}\n\n![{n}]({n})\n" for b, n in grid_files]
    if payload.get("metrics_info"):
        lines += ["## Metric implementations", "", "```json", json.dumps(payload["metrics_info"], indent=1), "```"]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return out
