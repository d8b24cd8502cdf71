"""Figure of several fills per input for docs/diverse.md: masked input | K fills of each model | ground truth.

    python benchmarks/diverse_figure.py --model "stage 1"=<ckpt> --model "stage 2"=<ckpt> [--rows 4] [--samples 4]
        [--bucket 0.4-0.6] [--seed 0] [--scale 2] --out docs/diverse_fills.png

Inputs are the first `rows` images of the scenes test split with the fixed evaluation masks of `bucket` (holes shown
grey); fill k of every model uses the same z (torch.Generator(seed)), so columns are comparable across models.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from mminvert.data import EvalMaskSet, InpaintingDataset
from mminvert.inference.bundle import load_diverse

CONF = Path(__file__).resolve().parents[1] / "conf"


def to_rgb(x: torch.Tensor) -> np.ndarray:
    return ((x.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="name=checkpoint")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--bucket", default="0.4-0.6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--data-dir", default=str(CONF.parent / "data"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    models = [(n, load_diverse(p)) for n, p in (m.split("=", 1) for m in args.model)]
    R = models[0][1].generator.resolution
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("evaluate", overrides=["ckpt=none", "data=scenes", f"paths.data_dir={args.data_dir}"])
    dm = instantiate(cfg.data)
    source = dm.source_factory(split="test", resolution=R)
    masks = EvalMaskSet(Path(args.data_dir) / "eval_masks", R, args.bucket, count=args.rows, seed=2025).ensure()
    ds = InpaintingDataset(source, R, eval_masks=masks, train=False, edges=dm.edges, seed=2)
    batch = torch.utils.data.default_collate([ds[i] for i in range(args.rows)])
    gap = np.full((R, 4, 3), 255, np.uint8)
    columns = [[to_rgb(img * m + 0.5 * (1 - m)) for img, m in zip(batch["image"], batch["mask"])]]
    for _, model in models:
        fills = model.sample({"image": batch["image"], "mask": batch["mask"]}, args.samples, seed=args.seed)
        for k in range(args.samples):
            columns.append([to_rgb(f) for f in fills["composite"][:, k]])
    columns.append([to_rgb(img) for img in batch["image"]])
    rows = [np.concatenate([x for col in columns for x in (col[r], gap)][:-1], axis=1) for r in range(args.rows)]
    grid = np.concatenate(rows, axis=0)
    img = Image.fromarray(grid).resize((grid.shape[1] * args.scale, grid.shape[0] * args.scale), Image.NEAREST)
    img.save(args.out)
    names = ", ".join(f"{n}: {args.samples} fills" for n, _ in models)
    print(f"wrote {args.out}: columns = masked input, {names}, ground truth")


if __name__ == "__main__":
    main()
