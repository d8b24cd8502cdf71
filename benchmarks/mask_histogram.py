"""Hole-ratio histograms of training mask presets and of the committed evaluation sets -> a PNG and printed figures.

    python benchmarks/mask_histogram.py [--presets train_wide train_mixed] [--draws 2000] [--out docs/mask_histogram.png]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from mminvert.data import hole_ratio  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def training_ratios(preset: str, draws: int, resolution: int, seed: int) -> np.ndarray:
    gen = instantiate(OmegaConf.load(REPO / "conf" / "mask" / f"{preset}.yaml"))
    rng = np.random.default_rng(seed)
    return np.array([hole_ratio(gen(rng, resolution, resolution)) for _ in range(draws)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["train_wide", "train_mixed"])
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "docs" / "mask_histogram.png"))
    args = ap.parse_args()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    bins = np.linspace(0, 1, 21)
    for preset in args.presets:
        r = training_ratios(preset, args.draws, args.resolution, args.seed)
        print(f"mask={preset}: {args.draws} draws at {args.resolution} px | median {np.median(r):.3f} | "
              f"> 0.4: {(r > 0.4).mean():.1%} | 0.4-0.6: {((r >= 0.4) & (r <= 0.6)).mean():.1%} | "
              f"0.7-0.9: {((r >= 0.7) & (r <= 0.9)).mean():.1%} | max {r.max():.3f}")
        axes[0].hist(r, bins=bins, histtype="step", linewidth=1.5, label=f"mask={preset}")
    axes[0].set(title=f"training masks ({args.draws} draws, {args.resolution} px)", xlabel="hole ratio", ylabel="masks")
    axes[0].legend()
    for manifest in sorted((REPO / "data" / "eval_masks" / str(args.resolution)).glob("*_spread/manifest.json")):
        m = json.loads(manifest.read_text())
        r = np.asarray(m["hole_ratios"])
        print(f"evaluation set {manifest.parent.name}: {len(r)} masks | min {r.min():.3f} | median {np.median(r):.3f} | "
              f"max {r.max():.3f}")
        axes[1].hist(r, bins=np.linspace(0, 1, 41), alpha=0.7, label=manifest.parent.name)
    axes[1].set(title=f"committed evaluation sets ({args.resolution} px)", xlabel="hole ratio")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
