"""Diverse inpainting on the scenes test split: quality of one fill, diversity between K fills, and reference rows.

    python benchmarks/diverse_eval.py --model s1=/work/runs/diverse_s1/checkpoints/last.ckpt \
        --model s2=/work/runs/diverse_s2/checkpoints/last.ckpt [--mminvertfill scenes64_inpainter] [--telea] \
        [--num-images 128] [--buckets 0.1-0.3 0.4-0.6 0.7-0.9] [--samples 2] [--seed 0] [--out results.json]

Per hole-ratio bucket (the fixed evaluation mask sets, seed 2025, as evaluate.py) and method: FID, P-IDS, U-IDS,
PSNR, SSIM and hole L1 of the composite of the first fill (z from torch.Generator(seed)); for the diverse models
`div_l1`, the mean absolute difference between two fills inside the hole (in [0, 1] units like the hole L1,
averaged over the hole pixels and over all pairs of the K fills). The paper's diversity is LPIPS between fills;
LPIPS weights are not available offline, so this script reports the L1 figure and labels it so. FID on a few
hundred images is biased upward: compare rows of one run only. Prints the machine (CPU model, GEMM rate).
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.data import DataLoader

from mminvert.data import EvalMaskSet, InpaintingDataset
from mminvert.data.first_items import FirstItems
from mminvert.evaluation.methods import ModelMethod, TeleaMethod
from mminvert.inference.bundle import load_bundle, load_diverse
from mminvert.metrics import InpaintingMetrics
from mminvert.metrics.diversity import hole_l1_diversity
from mminvert.metrics.inception import InceptionFeatures
from mminvert.utils.machine import cpu_model, gemm_gflops

CONF = Path(__file__).resolve().parents[1] / "conf"
METRICS = ("fid", "p_ids", "u_ids", "psnr", "ssim", "l1_hole")


class DiverseRow:
    """K fills per input from a DiverseInversion; the first is the evaluated composite."""

    def __init__(self, name: str, path: str, samples: int, seed: int) -> None:
        self.name, self.model, self.samples, self.seed = name, load_diverse(path), samples, seed

    def __call__(self, batch: dict, batch_idx: int) -> dict:
        fills = self.model.sample({"image": batch["image"], "mask": batch["mask"]}, self.samples,
                                  seed=self.seed * 100003 + batch_idx)
        return {"composite": fills["composite"][:, 0], "fills": fills["composite"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], help="name=checkpoint of a DiverseInversion")
    ap.add_argument("--mminvertfill", default=None, help="an MMInvertFill bundle or checkpoint (reference row)")
    ap.add_argument("--telea", action="store_true", help="add OpenCV's Telea inpainting as a reference row")
    ap.add_argument("--num-images", type=int, default=128)
    ap.add_argument("--buckets", nargs="+", default=["0.1-0.3", "0.4-0.6", "0.7-0.9"])
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--data-dir", default=str(CONF.parent / "data"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {cpu_model()}, {torch.get_num_threads()} torch threads, fp32 GEMM {gemm_gflops():.1f} GFLOP/s")

    rows: list = [DiverseRow(*m.split("=", 1), args.samples, args.seed) for m in args.model]
    R = rows[0].model.generator.resolution if rows else 64
    if args.mminvertfill:
        rows.append(ModelMethod(load_bundle(args.mminvertfill), "mminvertfill"))
    if args.telea:
        rows.append(TeleaMethod())
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("evaluate", overrides=["ckpt=none", "data=scenes", f"paths.data_dir={args.data_dir}"])
    dm = instantiate(cfg.data)
    source = FirstItems(dm.source_factory(split="test", resolution=R), args.num_images)
    inception = InceptionFeatures()
    results: dict = {"machine": {"cpu": cpu_model(), "threads": torch.get_num_threads()}, "num_images": len(source),
                     "samples": args.samples, "seed": args.seed, "results": {}}
    real_cache: list[torch.Tensor] = []
    start_time = time.perf_counter()
    for bucket in args.buckets:
        masks = EvalMaskSet(Path(args.data_dir) / "eval_masks", R, bucket, count=len(source), seed=2025).ensure()
        ds = InpaintingDataset(source, R, eval_masks=masks, train=False, edges=dm.edges, seed=2)
        loader = DataLoader(ds, batch_size=args.batch_size, shuffle=False)
        suites = {r.name: InpaintingMetrics(METRICS, inception=inception) for r in rows}
        div = {r.name: [] for r in rows if isinstance(r, DiverseRow)}
        for i, batch in enumerate(loader):
            if len(real_cache) <= i:
                real_cache.append(inception(batch["image"]))  # the real images do not depend on the bucket
            for r in rows:
                with torch.no_grad():
                    out = r(batch, i) if isinstance(r, DiverseRow) else r(batch)
                suites[r.name].update(out["composite"].float(), batch["image"], batch["mask"],
                                      target_features=real_cache[i], pred_features=inception(out["composite"].float()))
                if r.name in div:
                    div[r.name].append(hole_l1_diversity(out["fills"], batch["mask"]))
        for name, suite in suites.items():
            res = suite.compute()
            if name in div:
                res["div_l1"] = float(torch.cat(div[name]).mean())
            results["results"].setdefault(name, {})[bucket] = res
            print(f"{bucket} {name:14s} " + " ".join(f"{k} {v:.4f}" for k, v in res.items()), flush=True)
    results["wall_s"] = time.perf_counter() - start_time
    print(f"wall time {results['wall_s']:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
