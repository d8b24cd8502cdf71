"""The WGAN-GP prior on the scenes: a sample grid, the training curve of the Wasserstein estimate, and the
contextual inversion (Yeh / Vitoria) in its z space with its critic as the prior, against Telea, on test
scenes with masks of one hole bucket.

    python benchmarks/wgan_gp_scenes.py [--wgan scenes64] [--metrics RUN/csv/version_0/metrics.csv]
        [--images 8] [--bucket 0.4-0.6] [--steps 1000] [--out docs/wgan_gp_scenes64]

Prints the CPU model, a GEMM figure and the load average with every timing; hole L1 ([0, 1] units) and
PSNR (composite against the ground truth, dB) as mean ± std over the images for both methods. Writes
`<out>_samples.png` (16 samples of fixed z), `<out>_wasserstein.png` (when --metrics is given),
`<out>_inpainting.png` (masked input | Telea | G(z*) | Poisson composite | truth) and `<out>.json`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from semantic_scenes import cpu_model, gemm_gflops, mean_std, rgb, test_images  # noqa: E402

from mminvert.baselines import ContextualInversion  # noqa: E402
from mminvert.baselines.telea import telea_fill  # noqa: E402
from mminvert.baselines.wgan_gp import load_wgan_gp  # noqa: E402
from mminvert.metrics.image_quality import l1_hole, psnr  # noqa: E402


def machine() -> str:
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"CPU: {cpu_model()}, {torch.get_num_threads()} thread(s); GEMM fp32 1024²: {gemm_gflops():.1f} GFLOP/s; "
            f"load average {load} on {os.cpu_count()} cores")


def sample_grid(G: torch.nn.Module, path: str, n: int = 16, seed: int = 0) -> None:
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = G(z)
    side = int(np.ceil(np.sqrt(n)))
    cells = [rgb(x[i]) for i in range(n)] + [np.zeros_like(rgb(x[0]))] * (side * side - n)
    rows = [np.concatenate(cells[r * side:(r + 1) * side], axis=1) for r in range(side)]
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)


def wasserstein_curve(metrics_csv: str, path: str, window: int = 20) -> dict[str, float]:
    """Plot train/wasserstein (E[D(x)] − E[D(G(z))] on the last critic chunk of each logged step) against the
    generator iteration, raw and as a running mean over `window` logged points."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, w = [], []
    with open(metrics_csv) as f:
        for row in csv.DictReader(f):
            if row.get("train/wasserstein"):
                steps.append(int(row["step"]))
                w.append(float(row["train/wasserstein"]))
    if not w:
        raise ValueError(f"{metrics_csv} has no train/wasserstein column values")
    s, v = np.asarray(steps), np.asarray(w)
    k = min(window, len(v))
    smooth = np.convolve(v, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    ax.plot(s, v, lw=0.6, alpha=0.4, label="logged every 10 iterations")
    ax.plot(s[k - 1:], smooth, lw=1.6, label=f"running mean of {k}")
    ax.set_xlabel("generator iteration")
    ax.set_ylabel("Wasserstein estimate")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return {"first_step": int(s[0]), "last_step": int(s[-1]), "first": float(v[0]),
            "last_running_mean": float(smooth[-1]), "max": float(v.max())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wgan", default="scenes64", help="WGAN-GP file or bundled name")
    ap.add_argument("--metrics", default=None, help="metrics.csv of the training run (for the curve)")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--bucket", default="0.4-0.6")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--out", default="docs/wgan_gp_scenes64")
    a = ap.parse_args()
    print(machine(), flush=True)
    G, D = load_wgan_gp(a.wgan)
    report: dict = {"wgan": a.wgan, "images": a.images, "bucket": a.bucket, "steps": a.steps,
                    "machine_start": machine()}
    sample_grid(G, f"{a.out}_samples.png")
    if a.metrics:
        report["wasserstein"] = wasserstein_curve(a.metrics, f"{a.out}_wasserstein.png")
        print("Wasserstein estimate:", json.dumps(report["wasserstein"]))
    x, m = test_images(a.images, a.bucket)
    t = time.perf_counter()
    telea = telea_fill(x, m)
    t_telea = (time.perf_counter() - t) / a.images
    inv = ContextualInversion(G, D, steps=a.steps)  # the documented defaults: η, β, α, lr, window, blend
    t = time.perf_counter()
    o = inv(x, m)
    t_inv = (time.perf_counter() - t) / a.images
    rows = {"telea": (telea, t_telea), "contextual_inversion": (o["composite"], t_inv)}
    for name, (y, sec) in rows.items():
        l1, p = l1_hole(y, x, m).tolist(), psnr(y, x).tolist()
        report[name] = {"l1_hole": mean_std(l1), "psnr": mean_std(p), "seconds_per_image": sec,
                        "per_image": {"l1_hole": l1, "psnr": p}}
        print(f"{name}: hole L1 {report[name]['l1_hole']['mean']:.4f} ± {report[name]['l1_hole']['std']:.4f}, "
              f"PSNR {report[name]['psnr']['mean']:.2f} ± {report[name]['psnr']['std']:.2f} dB "
              f"(n={a.images}, {sec:.2f} s/image)", flush=True)
    report["contextual_inversion"]["final_losses"] = {k: float(o[k][-1]) for k in
                                                      ("loss", "loss_context", "loss_gradient", "loss_prior")}
    report["machine_end"] = machine()
    print(report["machine_end"])
    cells = []
    with torch.no_grad():
        for i in range(min(4, a.images)):
            row = [x[i] * m[i], telea[i], o["image"][i], o["composite"][i], x[i]]
            cells.append(np.concatenate([rgb(c) for c in row], axis=1))
    grid = np.concatenate(cells, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(f"{a.out}_inpainting.png")
    Path(f"{a.out}.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {a.out}_samples.png, {a.out}_inpainting.png, {a.out}.json")


if __name__ == "__main__":
    main()
