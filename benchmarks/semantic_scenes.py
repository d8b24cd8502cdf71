"""MAGEC against the same optimisation without it on the built-in scenes (64 px, bundled generator,
classifier and directions), the edit-consistency score of a few edits, and an edit figure.

    python benchmarks/semantic_scenes.py [--images 20] [--ecs-images 4] [--ecs-edits cloud+2,tree-2] [--out docs/semantic]

Prints: CPU model, a GEMM figure, inversion MSE (known pixels; and the composite against the ground truth
in the hole) / LPIPS (the offline fallback: LPIPS-alex with a random backbone, named as such) / seconds
per image, for both variants; ECS per edit; writes `<out>_edits.png` and `<out>.json`.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mminvert import load_generator
from mminvert.baselines import PAPER_PHASES, MagecInversion, MagecPhase, train_linknet
from mminvert.data import EvalMaskSet
from mminvert.data.scenes import ScenesSource
from mminvert.editing import LatentDirections, load_attribute_classifier
from mminvert.evaluation.semantic import ecs_distance
from mminvert.metrics.ecs import mean_ecs_per_edit

EDITS = [("cloud", 2.0), ("cloud", -2.0), ("tree", 2.0), ("tree", -2.0), ("building", 2.0), ("building", -2.0),
         ("water", 2.0), ("water", -2.0)]


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:
        return platform.processor() or "unknown"


def gemm_gflops(n: int = 1024, reps: int = 3) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def test_images(n: int, bucket: str = "0.4-0.6") -> tuple[torch.Tensor, torch.Tensor]:
    src = ScenesSource("test", 64, seed=0, num_train=50_000, num_val=256, num_test=1000)
    imgs = torch.stack([torch.from_numpy(src.load(i)[0]).permute(2, 0, 1).float() / 127.5 - 1 for i in range(n)])
    root = Path(tempfile.mkdtemp())
    masks = EvalMaskSet(root, 64, bucket, count=n, seed=2025)
    m = torch.stack([torch.from_numpy(masks.draw(i).astype(np.float32)).reshape(1, 64, 64) for i in range(n)])
    return imgs, (m > 0.5).float()


def rgb(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1).permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--ecs-images", type=int, default=4)
    ap.add_argument("--linknet-samples", type=int, default=1000)
    ap.add_argument("--ecs-edits", default="all", help="comma-separated e.g. cloud+2,tree-2 (default: all 8 edits)")
    ap.add_argument("--out", default="docs/semantic")
    ap.add_argument("--variants", default="magec,no_magec", help="which of magec,no_magec to run")
    ap.add_argument("--parts", default="metrics,ecs,figure", help="which of metrics,ecs,figure to run (the "
                    "parts can run in separate processes on a loaded machine; each writes its own json)")
    a = ap.parse_args()
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads; GEMM fp32 1024²: {gemm_gflops():.1f} GFLOP/s")
    G = load_generator("scenes64").freeze()
    F = load_attribute_classifier("scenes64")
    dirs = LatentDirections.load("scenes64")
    lpips, label = ecs_distance(None)
    dist = lambda x, y: lpips.model(x, y, normalize=False).flatten()  # noqa: E731 (differentiable)
    x, m = test_images(a.images)
    parts = a.parts.split(",")
    report: dict = {"cpu": cpu_model(), "lpips": label, "images": a.images, "parts": parts}
    link = None
    if "magec" in a.variants.split(","):
        t0 = time.perf_counter()
        link, stats = train_linknet(G, F, num_samples=a.linknet_samples, steps=2000, seed=0)
        t_link = time.perf_counter() - t0
        print(f"LinkNet on {a.linknet_samples} generated pairs: {t_link:.0f} s, {stats}")
        report["linknet"] = {**stats, "seconds": t_link, "samples": a.linknet_samples}
    all_variants = {"magec": PAPER_PHASES,
                    "no_magec": [MagecPhase(p.steps, p.mse, p.lpips, p.id, 0.0) for p in PAPER_PHASES]}
    variants = {k: all_variants[k] for k in a.variants.split(",")}
    outs = {}
    for name, phases in variants.items():
        inv = MagecInversion(G, F, dirs, EDITS, linknet=link, phases=phases, perceptual=dist)
        outs[name] = (inv, None)
        if "metrics" not in parts and not ("figure" in parts and name == "magec"):
            continue
        t = time.perf_counter()
        o = inv(x, m)
        sec = (time.perf_counter() - t) / a.images
        with torch.no_grad():
            known = m.expand_as(x)
            mse_known = float(((o["image"] - x).square() * known).sum() / known.sum())
            mse_full = float((o["image"] - x).square().mean())
            hole = 1 - known
            mse_hole = float(((o["composite"] - x).square() * hole).sum() / hole.sum())
            lp_full = float(lpips(o["image"], x).mean())
            lp_comp = float(lpips(o["composite"], x).mean())
        outs[name] = (inv, o)
        report[name] = {"mse_known": mse_known, "mse_full_image": mse_full, "mse_hole_composite": mse_hole,
                        "lpips_full_image": lp_full, "lpips_composite": lp_comp, "seconds_per_image": sec,
                        "final_loss_magec": float(o["loss_magec"][-1])}
        print(name, json.dumps(report[name]))
    # ECS on the first images, every edit, both variants (each edit: one more inversion of those images)
    n = a.ecs_images
    if "ecs" not in parts:
        outs_ecs = {}
    else:
        outs_ecs = outs
    ecs_edits = EDITS if a.ecs_edits == "all" else [
        (e[:max(e.rfind("+"), e.rfind("-"))], float(e[max(e.rfind("+"), e.rfind("-")):])) for e in a.ecs_edits.split(",")]
    for name, (inv, _) in outs_ecs.items():
        render = lambda w: G.synthesis(w, noise_mode="const")  # noqa: E731
        invert = lambda img, msk: {"ws": inv(img, msk)["ws"]}  # noqa: E731
        t = time.perf_counter()
        ecs = mean_ecs_per_edit(invert, render, x[:n], m[:n], ecs_edits, dirs.edit, lambda p, q: lpips(p, q))
        report.setdefault(name, {})["ecs"] = ecs
        report[name]["ecs_mean"] = float(np.mean(list(ecs.values())))
        print(name, "ECS", json.dumps(ecs), f"mean {report[name]['ecs_mean']:.3f} ({time.perf_counter() - t:.0f} s)")
    # figure: masked input | MAGEC fill | G(w*) edited: +cloud −cloud +tree −tree +building −building +water −water
    Path(f"{a.out}.json").write_text(json.dumps(report, indent=1))
    if "figure" not in parts or "magec" not in outs:
        print(f"wrote {a.out}.json")
        return
    inv, o = outs["magec"]
    rows = []
    with torch.no_grad():
        for i in range(min(4, a.images)):
            ws = o["ws"][i:i + 1]
            cells = [x[i] * m[i], o["composite"][i]] + [G.synthesis(dirs.edit(ws, att, s), noise_mode="const")[0]
                                                          for att, s in EDITS]
            rows.append(np.concatenate([rgb(c) for c in cells], axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(f"{a.out}_edits.png")
    Path(f"{a.out}.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {a.out}_edits.png, {a.out}.json")


if __name__ == "__main__":
    main()
