"""Where the time of one WGAN-GP generator iteration goes on the scenes (64 px): data (rendering a scene,
the dataset's full sample with mask and edges, a cached read) against the networks (n_critic = 5 critic
updates of m = 16 reals with the gradient penalty + 1 generator update), per network width.

    OMP_NUM_THREADS=1 python benchmarks/wgan_gp_step.py [--widths 32,16] [--scenes 40]

Prints the CPU model, a GEMM figure and the load average with the timings.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from semantic_scenes import cpu_model, gemm_gflops  # noqa: E402

from mminvert.baselines.wgan_gp import DCGANCritic, DCGANGenerator, critic_loss, generator_loss, gradient_penalty  # noqa: E402
from mminvert.data.dataset import InpaintingDataset  # noqa: E402
from mminvert.data.scenes import ScenesSource, render_scene  # noqa: E402


def ms_per(fn, items) -> float:
    t = time.perf_counter()
    for i in items:
        fn(i)
    return (time.perf_counter() - t) / len(items) * 1000


def network_step_seconds(width: int, reps: int = 3, n_critic: int = 5, m: int = 16) -> float:
    G, D = DCGANGenerator(64, 128, width), DCGANCritic(64, width)
    og = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.0, 0.9))
    od = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.0, 0.9))
    real = torch.rand(n_critic * m, 3, 64, 64) * 2 - 1

    def step() -> None:
        for r in real.chunk(n_critic):
            with torch.no_grad():
                fake = G(torch.randn(m, 128))
            loss = critic_loss(D(r), D(fake), gradient_penalty(D, r, fake))
            od.zero_grad()
            loss.backward()
            od.step()
        loss = generator_loss(D(G(torch.randn(m, 128))))
        og.zero_grad()
        loss.backward()
        og.step()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(reps):
        step()
    return (time.perf_counter() - t) / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", default="32,16")
    ap.add_argument("--scenes", type=int, default=40)
    a = ap.parse_args()
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} thread(s); GEMM fp32 1024²: {gemm_gflops():.1f} GFLOP/s; "
          f"load average {load} on {os.cpu_count()} cores")
    idx = list(range(10_000, 10_000 + a.scenes))
    render = ms_per(lambda i: render_scene(0, i, 64, 2), idx)
    src = ScenesSource("train", 64, cache=None)
    masks = instantiate(OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "mask" / "train_mixed.yaml"))
    ds = InpaintingDataset(src, 64, mask_generator=masks, edges={"sigma": 1.0, "low": 50, "high": 150})
    sample = ms_per(lambda i: ds[i], idx)
    with tempfile.TemporaryDirectory() as d:
        disk = ScenesSource("train", 64, cache="disk", cache_dir=d)
        for i in idx:
            disk.load(i)
        cached = ms_per(disk.load, idx)
    per_step = 80  # n_critic × m reals per generator iteration
    print(f"data, per scene: render {render:.1f} ms; full dataset sample (render + mask + edges) {sample:.1f} ms; "
          f"disk-cached read {cached:.2f} ms")
    print(f"data, per generator iteration ({per_step} reals): rendered {sample * per_step / 1000:.2f} s, "
          f"cached {cached * per_step / 1000:.2f} s")
    for w in [int(v) for v in a.widths.split(",")]:
        sec = network_step_seconds(w)
        n_g = sum(p.numel() for p in DCGANGenerator(64, 128, w).parameters()) / 1e6
        n_d = sum(p.numel() for p in DCGANCritic(64, w).parameters()) / 1e6
        print(f"networks, width {w} (G {n_g:.2f} M, critic {n_d:.2f} M parameters): {sec:.2f} s per generator iteration; "
              f"data share when rendering {sample * per_step / 1000 / (sec + sample * per_step / 1000):.0%}, "
              f"when cached {cached * per_step / 1000 / (sec + cached * per_step / 1000):.0%}")
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"GEMM fp32 1024² at the end: {gemm_gflops():.1f} GFLOP/s; load average {load}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
