"""How well can the bundled generator represent the built-in scenes at all? (issue #13, "the ceiling")

For N test images, optimise directly — with the ground truth in hand, no encoder — the codes an inversion
inpainter produces and fit the *whole* image:
  w+     the W+ code (num_ws × 512) alone: the generator's own capacity;
  fw+    W+ plus additive features at the three injection resolutions of F&W+ (R/4, R/2, R): what the
         MMInvertFill output space can reach.
The fitted output then fills the evaluation holes (composite = x ⊙ M + G ⊙ (1 − M)) and is scored with the
evaluation's PSNR and L1-hole on the same images and masks as Telea (cv2.inpaint). An oracle fit that
cannot beat Telea means the generator (or the injection) is the limit, not the encoder or the training.

    python benchmarks/generator_ceiling.py [--images 32] [--steps 300] [--out docs/reproduction/ceiling.json]

Prints the CPU model and a GEMM figure first; every number printed is measured by this run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from semantic_scenes import cpu_model, gemm_gflops  # noqa: E402

from mminvert import load_generator  # noqa: E402
from mminvert.data import EvalMaskSet  # noqa: E402
from mminvert.data.scenes import ScenesSource  # noqa: E402
from mminvert.evaluation.methods import TeleaMethod  # noqa: E402
from mminvert.metrics import l1_hole, psnr  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def scenes_test(n: int, resolution: int = 64) -> torch.Tensor:
    """The first n images of the scenes test split as the evaluation sees them, (n, 3, R, R) in [-1, 1]."""
    src = ScenesSource("test", resolution, seed=0, num_train=50_000, num_val=256, num_test=1000)
    return torch.stack([torch.from_numpy(src.load(i)[0]).permute(2, 0, 1).float() / 127.5 - 1 for i in range(n)])


def eval_masks(n: int, bucket: str, resolution: int = 64) -> torch.Tensor:
    """Masks 0..n-1 of the evaluation set of `bucket` (seed 2025, as evaluate.py), (n, 1, R, R), 1 = known."""
    masks = EvalMaskSet(ROOT / "data" / "eval_masks", resolution, bucket, count=n, seed=2025)
    return torch.stack([torch.from_numpy(masks.draw(i).astype(np.float32))[None] for i in range(n)]).gt(0.5).float()


def fit(G, target: torch.Tensor, steps: int, features: bool, lr: float = 0.05,
        feature_lr: float = 0.01) -> tuple[torch.Tensor, list[float]]:
    """Adam on W+ (from w̄) [and zero-initialised additive features] minimising the mean squared error to
    the whole target. -> (G output (B, 3, R, R), per-step loss)."""
    b, R = target.shape[0], G.resolution
    ws = G.w_avg.detach().clone().expand(b, G.num_ws, -1).clone().requires_grad_(True)
    params = [{"params": [ws], "lr": lr}]
    feats: dict[int, torch.Tensor] = {}
    if features:
        for r in (R // 4, R // 2, R):
            feats[r] = torch.zeros(b, G.channels[r], r, r, requires_grad=True)
        params.append({"params": list(feats.values()), "lr": feature_lr})
    opt = torch.optim.Adam(params)
    history = []
    for _ in range(steps):
        out = G.synthesis(ws, noise_mode="const", features=feats or None)
        loss = F.mse_loss(out, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    with torch.no_grad():
        return G.synthesis(ws, noise_mode="const", features=feats or None), history


def scores(out: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    comp = image * mask + out * (1 - mask)
    return {"psnr": float(psnr(comp, image).mean()), "l1_hole": float(l1_hole(comp, image, mask).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--buckets", default="0.1-0.3,0.4-0.6,0.7-0.9")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"CPU: {cpu_model()} | threads {torch.get_num_threads()} | GEMM {gemm_gflops():.0f} GFLOP/s")
    G = load_generator("scenes64").freeze()
    images = scenes_test(args.images)
    buckets = args.buckets.split(",")
    masks = {b: eval_masks(args.images, b) for b in buckets}
    result: dict = {"images": args.images, "steps": args.steps, "cpu": cpu_model(), "fits": {}, "buckets": {}}
    outputs = {}
    for mode, feats in (("w+", False), ("fw+", True)):
        t0 = time.perf_counter()
        outs, final_losses = [], []
        for chunk in images.split(args.batch):
            out, hist = fit(G, chunk, args.steps, feats)
            outs.append(out)
            final_losses.append(hist[-1])
        outputs[mode] = torch.cat(outs)
        whole = float(psnr(outputs[mode], images).mean())
        secs = time.perf_counter() - t0
        result["fits"][mode] = {"whole_image_psnr": whole, "seconds": secs}
        print(f"{mode:4s}: whole-image PSNR {whole:.2f} dB after {args.steps} steps ({secs:.0f} s)")
    telea = TeleaMethod()
    for b in buckets:
        m = masks[b]
        row = {mode: scores(outputs[mode], images, m) for mode in outputs}
        row["telea"] = scores(telea({"image": images, "mask": m})["composite"], images, m)
        result["buckets"][b] = row
        print(f"bucket {b}: " + " | ".join(f"{k} PSNR {v['psnr']:.2f} L1-hole {v['l1_hole']:.4f}" for k, v in row.items()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
