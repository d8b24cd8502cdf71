"""`evaluate(cfg)`: a checkpoint (and reference baselines) on the fixed evaluation masks of each
hole-ratio bucket -> results.json, table.md, report.md with plots and example grids.

Everything is deterministic: test images come from the data config's test split, masks from the
versioned evaluation sets (`EvalMaskSet`), the models run without noise, so re-running gives identical
numbers.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch.utils.data import DataLoader

from ..data import EvalMaskSet, InpaintingDataset
from ..inference.bundle import load_bundle
from ..io import load_discriminator, resolve_checkpoint
from ..metrics import InpaintingMetrics
from ..baselines import ContextualInversion, OptimInversion
from .methods import GeneratorBaseline, ModelMethod, TeleaMethod
from .report import write_results

__all__ = ["evaluate"]

log = logging.getLogger(__name__)


class _Head:
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


BASELINES = ("telea", "optim_inversion", "contextual_inversion", "magec")


def _baseline(name: str, cfg: DictConfig, model: torch.nn.Module, device: torch.device,
              skipped: dict[str, str]) -> Any:
    if name == "telea":
        return TeleaMethod()
    if name == "contextual_inversion":
        options = OmegaConf.to_container(cfg.contextual_inversion, resolve=True)
        d_path = options.pop("discriminator", None)
        wgan = options.pop("wgan_gp", None)
        if wgan:  # the seed's route: a WGAN-GP's z space with its critic as the prior
            from ..wgan_gp import load_wgan_gp

            generator, discriminator = load_wgan_gp(wgan, map_location=device)
        else:
            generator = copy.deepcopy(model.generator).to(device)
            discriminator = load_discriminator(d_path, map_location=device) if d_path else None
        if discriminator is None:
            skipped["contextual_inversion prior"] = "off: no `contextual_inversion.discriminator` file given"
        inversion = ContextualInversion(generator, discriminator, **options)
        return GeneratorBaseline(name, inversion, device)
    options = OmegaConf.to_container(cfg[name], resolve=True)
    perceptual = None
    net = options.pop("lpips_net", None)
    if net and options.get("lambda_perceptual", 0):
        from ..metrics import LPIPSMetric

        try:
            perceptual = LPIPSMetric(net).to(device)
        except (FileNotFoundError, ValueError) as e:
            if not cfg.skip_unavailable:
                raise
            skipped["optim_inversion LPIPS term"] = f"MSE only: {str(e).split('. ')[0]}"
    G = copy.deepcopy(model.generator).to(device)
    if name == "magec":
        from .semantic import build_magec

        if perceptual is None and options.get("lpips_offline_fallback", True):
            from .semantic import ecs_distance

            perceptual, label = ecs_distance(None)
            skipped["magec LPIPS term"] = f"replaced by the {label}"
        options.pop("lpips_offline_fallback", None)
        if not options.get("identity"):
            skipped["magec ID term"] = "off: no `magec.identity` network given"
        return GeneratorBaseline(name, build_magec(options, G, perceptual), device)
    inversion = OptimInversion(G, perceptual=perceptual, guidance=_guidance(options.pop("guidance", None)), **options)
    return GeneratorBaseline(name, inversion, device)


def _guidance(raw: Any) -> list[Any]:
    """`optim_inversion.guidance`: [{classifier, targets: {attribute: 0|1}, weight, epsilon, temperature, ...}]."""
    from ..baselines import AttributeGuidance
    from ..editing import load_descriptor

    terms = []
    for g in raw or []:
        g = dict(g)
        net = load_descriptor(g.pop("classifier"))
        names = list(getattr(net, "names", []))
        wanted = g.pop("targets")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ValueError(f"guidance targets {unknown} are not attributes of the classifier ({names})")
        targets = [float(wanted[n]) if n in wanted else float("nan") for n in names]
        # mminvert classifiers read [-1, 1] images: identity normalisation
        terms.append(AttributeGuidance(net, targets, mean=(0.5,) * 3, std=(0.5,) * 3, **g))
    return terms


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    device = torch.device(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    ckpt = resolve_checkpoint(cfg.ckpt)
    model = load_bundle(ckpt, map_location="cpu")
    R = model.generator.resolution
    methods: list[Any] = [ModelMethod(model, cfg.get("method_name") or "mminvert", device)]
    unknown = [b for b in cfg.baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; available: {list(BASELINES)}")

    dm = instantiate(cfg.data)
    dm.resolution = R
    source = _Head(dm.source_factory(split="test", resolution=R), int(cfg.num_images))
    skipped: dict[str, str] = {}
    inception, lpips, metrics = _shared_networks(list(cfg.metrics), cfg, skipped)
    methods += [_baseline(b, cfg, model, device, skipped) for b in cfg.baselines]
    out_dir = Path(cfg.output_dir)
    results: dict[str, dict[str, dict[str, float]]] = {m.name: {} for m in methods}
    grids: dict[str, np.ndarray] = {}
    ecs: dict[str, dict[str, float]] = {}
    ecs_cfg = cfg.get("ecs") or {}
    for bucket in cfg.buckets:
        masks = EvalMaskSet(Path(cfg.paths.data_dir) / "eval_masks", R, bucket, count=int(cfg.num_images),
                            seed=int(cfg.mask_seed)).ensure()
        ds = InpaintingDataset(source, R, eval_masks=masks, train=False, edges=dm.edges, seed=int(cfg.seed) + 2)
        loader = DataLoader(ds, batch_size=int(cfg.batch_size), shuffle=False, num_workers=int(cfg.num_workers))
        suites = {m.name: InpaintingMetrics(metrics, num_classes=dm.num_classes, inception=inception, lpips=lpips)
                  for m in methods}
        examples: list[list[np.ndarray]] = []
        for batch in loader:
            outs = {m.name: m(batch) for m in methods}
            if ecs_cfg.get("edits") and not ecs:  # first batch of the first bucket
                from .semantic import ecs_edit_scores

                ecs = ecs_edit_scores(ecs_cfg, methods, model.generator, batch, lpips, skipped)
            real_feats = inception(batch["image"]) if inception is not None else None  # shared by all methods
            for name, o in outs.items():
                suites[name].update(o["composite"], batch["image"], batch["mask"], o["seg"], batch.get("seg"),
                                    target_features=real_feats)
                if cfg.save_outputs:
                    d = out_dir / "outputs" / name / bucket
                    d.mkdir(parents=True, exist_ok=True)
                    for img, idx in zip(o["composite"], batch["index"]):
                        Image.fromarray(_rgb(img)).save(d / f"{int(idx):06d}.png")
            for i in range(batch["image"].shape[0]):
                if len(examples) < int(cfg.grid_rows):
                    masked = batch["image"][i] * batch["mask"][i]
                    examples.append([_rgb(masked)] + [_rgb(outs[m.name]["composite"][i]) for m in methods]
                                    + [_rgb(batch["image"][i])])
        for name, suite in suites.items():
            results[name][bucket] = suite.compute()
            log.info("%s %s: %s", name, bucket, results[name][bucket])
        grids[bucket] = np.concatenate([np.concatenate(r, axis=1) for r in examples], axis=0)
    info = {}
    if inception is not None:
        info["inception"] = inception.info
    if lpips is not None:
        info["lpips"] = {"net": lpips.net_name, "pretrained": lpips.pretrained}
    payload = {"checkpoint": str(ckpt), "data": OmegaConf.select(cfg, "data.source._target_"),
               "num_images": len(source), "buckets": list(cfg.buckets), "metrics": metrics,
               "masks": f"EvalMaskSet(seed={cfg.mask_seed}, count={cfg.num_images})", "skipped": skipped,
               "metrics_info": info, "results": results, **({"ecs": ecs} if ecs else {})}
    write_results(out_dir, payload, grids)
    log.info("wrote %s", out_dir / "report.md")
    return payload
