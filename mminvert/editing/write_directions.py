"""Write a directions file for a generator + descriptor pair:

    python -m mminvert.editing.write_directions --generator scenes64 --classifier scenes64 \
        --out mminvert/assets/scenes64_directions.pt

Samples `--num` codes w = mapping(z), renders G(w) (constant noise), labels them with σ(F(G(w))) and fits
one direction per attribute with `fit_directions` (linear SVM by default). Prints the held-out accuracy.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ..io import load_generator
from ..stylegan2 import StyleGAN2Generator
from .classifier import load_descriptor
from .directions import LatentDirections, fit_directions

__all__ = ["sample_latent_pairs", "main"]


@torch.no_grad()
def sample_latent_pairs(G: StyleGAN2Generator, F: nn.Module, n: int, batch: int = 64, seed: int = 0
                        ) -> tuple[Tensor, Tensor]:
    """n generated samples -> (w (n, w_dim), σ(F(G(w))) (n, K)). Deterministic for a seed."""
    gen = torch.Generator().manual_seed(seed)
    ws, probs = [], []
    for i in range(0, n, batch):
        z = torch.randn(min(batch, n - i), G.z_dim, generator=gen)
        w = G.mapping(z)
        x = G.synthesis(w.unsqueeze(1).expand(-1, G.num_ws, -1), noise_mode="const")
        ws.append(w)
        probs.append(torch.sigmoid(F(x)))
    return torch.cat(ws), torch.cat(probs)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mminvert.editing.write_directions", description=__doc__.split("\n")[0])
    ap.add_argument("--generator", default="scenes64", help="generator file or bundled name")
    ap.add_argument("--classifier", default="scenes64", help="attribute classifier file, TorchScript file or bundled name")
    ap.add_argument("--names", default=None, help="comma-separated attribute names (TorchScript classifiers)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--num", type=int, default=2000)
    ap.add_argument("--method", choices=("svm", "logistic"), default="svm")
    ap.add_argument("--extremes", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if out.exists() and not a.overwrite:
        ap.error(f"{out} exists (pass --overwrite to replace it)")
    G = load_generator(a.generator).freeze()
    F = load_descriptor(a.classifier)
    names = a.names.split(",") if a.names else getattr(F, "names", None)
    ws, probs = sample_latent_pairs(G, F, a.num, seed=a.seed)
    if names is None:
        names = [f"attr{k}" for k in range(probs.shape[1])]
    d: LatentDirections = fit_directions(ws, probs, names, method=a.method, extremes=a.extremes, seed=a.seed)
    d.info.update(generator=str(a.generator), classifier=str(a.classifier),
                  positive_rate=dict(zip(names, (probs > 0.5).float().mean(0).tolist())))
    d.save(out)
    print(json.dumps({"accuracy": dict(zip(names, d.accuracy.tolist())), "scale": dict(zip(names, d.scale.tolist())),
                      **d.info}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
