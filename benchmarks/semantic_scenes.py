"""MAGEC against the same optimisation without it on the built-in scenes (64 px, bundled generator,
classifier and directions), the edit-consistency score of a few edits, and an edit figure.

    python benchmarks/semantic_scenes.py [--images 20] [--ecs-images 4] [--ecs-edits cloud+2,tree-2] [--out docs/semantic]

Prints: CPU model, a GEMM figure, inversion MSE (known pixels; and the composite against the ground truth
in the hole) / LPIPS (the offline fallback: LPIPS-alex with a random backbone, named as such) / seconds
per image (mean ± std over images, n), for both variants; ECS per edit (mean ± std, n); writes `<out>_edits.png` and `<out>.json`.
"""
from __future__ import annotations

import argparse
import json
import os
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
from mminvert.metrics.ecs import edit_consistency_score, edit_cycle

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


def machine() -> str:
    """CPU model, thread count, a GEMM figure and the load average: printed with every timing."""
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"CPU: {cpu_model()}, {torch.get_num_threads()} thread(s); GEMM fp32 1024²: {gemm_gflops():.1f} GFLOP/s; "
            f"load average {load} on {os.cpu_count()} cores")


def mean_std(v: list[float]) -> dict[str, float]:
    a = np.asarray(v, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "n": int(a.size)}


def parse_edits(spec: str) -> list[tuple[str, float]]:
    if spec == "all":
        return EDITS
    out = []
    for e in spec.split(","):
        k = max(e.rfind("+"), e.rfind("-"))
        out.append((e[:k], float(e[k:])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--ecs-images", type=int, default=4, help="the first N of the --images images get every edit")
    ap.add_argument("--linknet-samples", type=int, default=1000)
    ap.add_argument("--ecs-edits", default="all", help="comma-separated e.g. cloud+2,tree-2 (default: all 8 edits)")
    ap.add_argument("--out", default="docs/semantic")
    ap.add_argument("--variants", default="magec,no_magec", help="which of magec,no_magec to run")
    ap.add_argument("--parts", default="metrics,ecs,figure", help="which of metrics,ecs,figure to run (the "
                    "parts can run in separate processes on a loaded machine; each writes its own json)")
    a = ap.parse_args()
    print(machine(), flush=True)
    G = load_generator("scenes64").freeze()
    F = load_attribute_classifier("scenes64")
    dirs = LatentDirections.load("scenes64")
    lpips, label = ecs_distance(None)
    dist = lambda x, y: lpips.model(x, y, normalize=False).flatten()  # noqa: E731 (differentiable)
    n_inv = max(a.images, a.ecs_images)
    x, m = test_images(n_inv)
    parts = a.parts.split(",")
    report: dict = {"cpu": cpu_model(), "lpips": label, "images": a.images, "ecs_images": a.ecs_images,
                    "parts": parts, "machine_start": machine()}
    out_json = Path(f"{a.out}.json")

    def save() -> None:
        out_json.write_text(json.dumps(report, indent=1))

    link = None
    if "magec" in a.variants.split(","):
        t0 = time.perf_counter()
        link, stats = train_linknet(G, F, num_samples=a.linknet_samples, steps=2000, seed=0)
        t_link = time.perf_counter() - t0
        print(f"LinkNet on {a.linknet_samples} generated pairs: {t_link:.0f} s, {stats}", flush=True)
        report["linknet"] = {**stats, "seconds": t_link, "samples": a.linknet_samples}
    all_variants = {"magec": PAPER_PHASES,
                    "no_magec": [MagecPhase(p.steps, p.mse, p.lpips, p.id, 0.0) for p in PAPER_PHASES]}
    variants = {k: all_variants[k] for k in a.variants.split(",")}
    outs = {}
    for name, phases in variants.items():
        inv = MagecInversion(G, F, dirs, EDITS, linknet=link, phases=phases, perceptual=dist)
        outs[name] = (inv, None)
        if not ({"metrics", "ecs"} & set(parts) or ("figure" in parts and name == "magec")):
            continue
        # one batch of all images (per-image Adam updates are independent: the loss is a sum over images)
        t = time.perf_counter()
        o = inv(x, m)
        sec = (time.perf_counter() - t) / n_inv
        with torch.no_grad():
            known = m.expand_as(x)
            hole = 1 - known
            per = {
                "mse_known": ((o["image"] - x).square() * known).flatten(1).sum(1) / known.flatten(1).sum(1),
                "mse_full_image": (o["image"] - x).square().flatten(1).mean(1),
                "mse_hole_composite": ((o["composite"] - x).square() * hole).flatten(1).sum(1) / hole.flatten(1).sum(1),
                "lpips_full_image": lpips(o["image"], x).flatten(),
                "lpips_composite": lpips(o["composite"], x).flatten(),
            }
        outs[name] = (inv, o)
        n = a.images
        report[name] = {k: mean_std(v[:n].tolist()) for k, v in per.items()}
        report[name]["per_image"] = {k: v[:n].tolist() for k, v in per.items()}
        report[name]["seconds_per_image"] = sec
        report[name]["final_loss_magec"] = float(o["loss_magec"][-1])
        report[name]["machine"] = machine()
        print(name, f"{n} images, {sec:.1f} s/image;", report[name]["machine"], flush=True)
        for k in per:
            print(f"  {k}: {report[name][k]['mean']:.4f} ± {report[name][k]['std']:.4f}", flush=True)
        save()
    # ECS: the first --ecs-images images, every edit, each variant. The start code is that variant's inversion
    # of the (holed) images above; each edit inverts the edited images once more (complete images).
    if "ecs" in parts:
        k = a.ecs_images
        render = lambda w: G.synthesis(w, noise_mode="const")  # noqa: E731
        for att, s in parse_edits(a.ecs_edits):  # edit-major, so a stopped run has both variants per edit
            for name, (inv, o) in outs.items():
                invert = lambda img, msk, inv=inv: {"ws": inv(img, msk)["ws"]}  # noqa: E731
                res = report.setdefault(name, {}).setdefault("ecs", {})
                t = time.perf_counter()
                p_x, x_edit, x_cyc = edit_cycle(invert, render, o["ws"][:k],
                                                lambda w, st: dirs.edit(w, att, st), s)
                with torch.no_grad():
                    e = edit_consistency_score(p_x, x_edit, x_cyc, lambda p, q: lpips(p, q)).tolist()
                key = f"{att}{s:+g}"
                res[key] = {**mean_std(e), "per_image": e, "seconds_per_image": (time.perf_counter() - t) / k}
                print(f"{name} ECS {key}: {res[key]['mean']:.3f} ± {res[key]['std']:.3f} (n={k}, "
                      f"{res[key]['seconds_per_image']:.1f} s/image); {machine()}", flush=True)
                allv = [v for r in res.values() for v in r["per_image"]]
                report[name]["ecs_all"] = mean_std(allv)
                save()
        save()
    report["machine_end"] = machine()
    save()
    print(report["machine_end"])
    if "figure" not in parts or outs.get("magec", (None, None))[1] is None:
        print(f"wrote {out_json}")
        return
    # figure: masked input | MAGEC fill | G(w*) edited: +cloud −cloud +tree −tree +building −building +water −water
    inv, o = outs["magec"]
    rows = []
    with torch.no_grad():
        for i in range(min(4, n_inv)):
            ws = o["ws"][i:i + 1]
            cells = [x[i] * m[i], o["composite"][i]] + [G.synthesis(dirs.edit(ws, att, s), noise_mode="const")[0]
                                                          for att, s in EDITS]
            rows.append(np.concatenate([rgb(c) for c in cells], axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(f"{a.out}_edits.png")
    print(f"wrote {a.out}_edits.png, {out_json}")


if __name__ == "__main__":
    main()
