"""`evaluate(cfg)`: a checkpoint (and reference baselines) on the fixed evaluation masks of each
hole-ratio bucket -> results.json, table.md, report.md with plots and example grids.

Everything is deterministic: test images come from the data config's test split, built by the DataModule
exactly as its test stage builds it, masks from the versioned evaluation sets (`EvalMaskSet`), the models run
without noise, so re-running gives identical numbers. The real images are the same in every bucket: their
Inception features are computed once and cached on disk (`feature_cache`, see real_features.py); each batch's
composites of all methods go through Inception in one forward.

The model rows come first, one per entry of `guidance` (data/guidance.py): `none` is standard inpainting (image and
mask only: what a user with a photo has, the default and the headline row), `known` / `gt` are extra rows named
`<method>[known]` / `<method>[gt]`. results.json's `given` records, for every row, what the method was given.
The model rows are evaluated on their `output` (composite | raw | poisson, see ModelMethod) and always report
`gap`: mean |ŷ_raw − x| over the known pixels, before compositing (baseline rows leave it empty).

`diversity` (in `metrics`): for methods that can sample, the mean pairwise perceptual distance between
`diversity.num_samples` fills per input (DiversityColumn); the others get n/a with the reason in results.json.
Buckets may be any `lo-hi` with 0 <= lo < hi <= 1; `mask_ratio` says how hole ratios spread inside a bucket
(`spread`, the default: close to uniform over the bucket; see BucketMasks), and results.json gives the min /
median / max hole ratio of each bucket's masks.

Parts: prepare.py builds what the buckets share, bucket.py scores one bucket, this module assembles results.json
and writes the reports (report.py) and, for a paper-table job, its completion marker (row_record.py).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..data import bucket_ratio
from ..data.guidance import GUIDANCE_GIVEN
from .bucket import BucketResult, evaluate_bucket
from .methods import ModelMethod
from .prepare import Evaluation, prepare
from .report import write_results
from .row_record import RowJob, row_job
from .run_data import write_scored_images

__all__ = ["evaluate"]

log = logging.getLogger(__name__)


def _ratio_note(buckets: Any, mode: str) -> str:
    modes = sorted({bucket_ratio(b, mode) for b in buckets})
    return f", ratio={'/'.join(modes)}"


def _metrics_info(ev: Evaluation) -> dict[str, Any]:
    """Which Inception and LPIPS the numbers come from (results.json `metrics_info`)."""
    info = {}
    if ev.inception is not None:
        info["inception"] = ev.inception.info
    if ev.lpips is not None:
        info["lpips"] = {"net": ev.lpips.net_name, "pretrained": ev.lpips.pretrained}
    return info


def _payload(ev: Evaluation, buckets: dict[str, BucketResult]) -> dict[str, Any]:
    """results.json: what was evaluated, on which data and masks, and {method: {bucket: {metric: value}}}."""
    cfg, n, row = ev.cfg, ev.count, ev.model_rows[0]
    results = {m.name: {b: r.results[m.name] for b, r in buckets.items()} for m in ev.methods}
    notes = {m.name: m.note for m in ev.methods if getattr(m, "note", None)}
    payload = {"checkpoint": str(ev.ckpt), "data": OmegaConf.select(cfg, "data.source._target_"),
               "dataset": ev.data.info(n, ev.resolution), "num_images": n, "buckets": list(cfg.buckets),
               "metrics": [*ev.metrics, *(["diversity"] if ev.diversity is not None else []), "gap"],
               "model_method": row.name, "output": row.output, "seed": cfg.get("seed"),
               "given": {m.name: GUIDANCE_GIVEN[m.guidance] if isinstance(m, ModelMethod) else GUIDANCE_GIVEN["none"]
                         for m in ev.methods},
               "guidance": {m.name: m.guidance for m in ev.model_rows},
               "masks": f"EvalMaskSet(seed={cfg.mask_seed}, count={n}"
                        f"{_ratio_note(cfg.buckets, str(cfg.get('mask_ratio', 'spread')))})",
               "hole_ratios": {str(b): r.hole_ratios for b, r in buckets.items()},
               "skipped": ev.skipped, "metrics_info": _metrics_info(ev), "results": results}
    if ev.ecs:
        payload["ecs"] = ev.ecs
    if ev.diversity is not None:
        payload["diversity"] = ev.diversity.info()
    if notes:
        payload["notes"] = notes
    if cfg.get("paper_row"):
        payload["paper"] = {"table": cfg.get("paper_table"), "row": cfg.paper_row}
    return payload


def evaluate(cfg: DictConfig, job: RowJob | None = None) -> dict[str, Any]:
    """Evaluate `cfg.ckpt` (and `cfg.baselines`) on every bucket of `cfg.buckets` (conf/evaluate.yaml) and write
    results.json, table.md, report.md (plots, example grids) and test_images.txt to `cfg.output_dir`.

    Then the paper-table job this evaluation finishes, if any, is marked complete (row.json, the only place it is
    written): `job` (a training run evaluated after fit), else the job `cfg.paper_row` names in `cfg.output_dir`
    (`evaluate.py -m paper=...`). Returns the results.json payload."""
    ev = prepare(cfg)
    out_dir = Path(cfg.output_dir)
    log.info("evaluating %s: %d test images x %d buckets, methods %s, metrics %s", ev.ckpt, ev.count,
             len(cfg.buckets), [m.name for m in ev.methods], ev.metrics)
    buckets = {bucket: evaluate_bucket(ev, bucket) for bucket in cfg.buckets}
    write_scored_images(out_dir, ev.scored)
    payload = _payload(ev, buckets)
    write_results(out_dir, payload, {b: r.grid for b, r in buckets.items()})
    log.info("wrote %s", out_dir / "report.md")
    job = job or row_job(cfg, out_dir)
    if job is not None:  # the completion marker of a paper-table job, last
        job.complete(out_dir / "results.json")
    return payload
