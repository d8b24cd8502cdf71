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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mminvert import load_generator
from mminvert.baselines import PAPER_PHASES, LinkNet, MagecInversion, MagecPhase, train_linknet
from mminvert.data import EvalMaskSet
from mminvert.data.scenes import ScenesSource
from mminvert.editing import LatentDirections, load_attribute_classifier
from mminvert.evaluation.semantic import ecs_distance
from mminvert.metrics.ecs import edit_consistency_score, edit_cycle
from mminvert.utils.machine import cpu_model  # also imported from here by the wgan_gp and generator_ceiling benchmarks

EDITS = [("cloud", 2.0), ("cloud", -2.0), ("tree", 2.0), ("tree", -2.0), ("building", 2.0), ("building", -2.0),
         ("water", 2.0), ("water", -2.0)]
VARIANTS = ("magec", "no_magec")
PARTS = ("metrics", "ecs", "figure")
FIGURE_ROWS = 4


def gemm_gflops(n: int = 1024, reps: int = 3) -> float:
    """Best-of-`reps` fp32 n×n matrix-product rate in GFLOP/s. Unlike mminvert.utils.machine.gemm_gflops it draws
    its matrices from torch's global RNG: generator_ceiling.py imports it from here after seeding, and its numbers
    follow that RNG sequence."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def test_images(n: int, bucket: str = "0.4-0.6") -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` built-in test scenes, (n, 3, 64, 64) in [-1, 1], and `n` evaluation masks of the hole-ratio
    `bucket`, (n, 1, 64, 64) with 1 = known pixel, 0 = hole."""
    src = ScenesSource("test", 64, seed=0, num_train=50_000, num_val=256, num_test=1000)
    imgs = torch.stack([torch.from_numpy(src.load(i)[0]).permute(2, 0, 1).float() / 127.5 - 1 for i in range(n)])
    root = Path(tempfile.mkdtemp())
    masks = EvalMaskSet(root, 64, bucket, count=n, seed=2025)
    m = torch.stack([torch.from_numpy(masks.draw(i).astype(np.float32)).reshape(1, 64, 64) for i in range(n)])
    return imgs, (m > 0.5).float()


def rgb(x: torch.Tensor) -> np.ndarray:
    """A (3, H, W) image in [-1, 1] as (H, W, 3) uint8."""
    return ((x.clamp(-1, 1).permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)


def machine() -> str:
    """CPU model, thread count, a GEMM figure and the load average: printed with every timing."""
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"CPU: {cpu_model()}, {torch.get_num_threads()} thread(s); GEMM fp32 1024²: {gemm_gflops():.1f} GFLOP/s; "
            f"load average {load} on {os.cpu_count()} cores")


def mean_std(v: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for a single value) and count of `v`."""
    a = np.asarray(v, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "n": int(a.size)}


def parse_edits(spec: str) -> list[tuple[str, float]]:
    """"cloud+2,tree-2" -> [("cloud", 2.0), ("tree", -2.0)]; "all" -> EDITS."""
    if spec == "all":
        return EDITS
    out = []
    for e in spec.split(","):
        k = max(e.rfind("+"), e.rfind("-"))
        out.append((e[:k], float(e[k:])))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--ecs-images", type=int, default=4, help="the first N of the --images images get every edit")
    ap.add_argument("--linknet-samples", type=int, default=1000)
    ap.add_argument("--ecs-edits", default="all", help="comma-separated e.g. cloud+2,tree-2 (default: all 8 edits)")
    ap.add_argument("--out", default="docs/semantic")
    ap.add_argument("--variants", default="magec,no_magec", help="which of magec,no_magec to run")
    ap.add_argument("--parts", default="metrics,ecs,figure", help="which of metrics,ecs,figure to run (the "
                    "parts can run in separate processes on a loaded machine; each writes its own json)")
    args = ap.parse_args(argv)
    for flag, value, allowed in (("--variants", args.variants, VARIANTS), ("--parts", args.parts, PARTS)):
        unknown = [v for v in value.split(",") if v not in allowed]
        if unknown:
            ap.error(f"{flag}: unknown {', '.join(unknown)} (choose from {','.join(allowed)})")
    return args


@dataclass
class Scene:
    """What every part uses: the bundled 64 px networks, the LPIPS distance and the test batch
    (`x`: (N, 3, 64, 64) in [-1, 1]; `m`: (N, 1, 64, 64), 1 = known)."""

    G: torch.nn.Module
    F: torch.nn.Module
    dirs: LatentDirections
    lpips: Any
    lpips_label: str
    x: torch.Tensor
    m: torch.Tensor


def load_scene(num_images: int) -> Scene:
    """The bundled scenes64 generator, attribute classifier and directions, the ECS distance (its random
    backbone seeded) and the first `num_images` test images with their masks."""
    G = load_generator("scenes64").freeze()
    F = load_attribute_classifier("scenes64")
    dirs = LatentDirections.load("scenes64")
    lpips, label = ecs_distance(None)
    x, m = test_images(num_images)
    return Scene(G, F, dirs, lpips, label, x, m)


def save_report(report: dict, path: Path) -> None:
    """Write the report as it stands (called after every part, so a stopped run keeps what it finished)."""
    path.write_text(json.dumps(report, indent=1))


def train_linknet_for(variants: list[str], samples: int, scene: Scene, report: dict) -> LinkNet | None:
    """The LinkNet of the MAGEC loss (None when the magec variant is not run); its stats and time go
    into report["linknet"]."""
    if "magec" not in variants:
        return None
    t0 = time.perf_counter()
    link, stats = train_linknet(scene.G, scene.F, num_samples=samples, steps=2000, seed=0)
    t_link = time.perf_counter() - t0
    print(f"LinkNet on {samples} generated pairs: {t_link:.0f} s, {stats}", flush=True)
    report["linknet"] = {**stats, "seconds": t_link, "samples": samples}
    return link


def build_variants(names: list[str], scene: Scene, link: LinkNet | None) -> dict[str, MagecInversion]:
    """The inversions named in `names`, in that order: magec (the paper's schedule) and no_magec (the same
    schedule with λ_MAGEC = 0), both with the LPIPS term on the ECS distance."""
    phases = {"magec": PAPER_PHASES,
              "no_magec": [MagecPhase(p.steps, p.mse, p.lpips, p.id, 0.0) for p in PAPER_PHASES]}

    def perceptual(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return scene.lpips.model(x, y, normalize=False).flatten()  # differentiable, (B,)

    return {n: MagecInversion(scene.G, scene.F, scene.dirs, EDITS, linknet=link, phases=phases[n],
                              perceptual=perceptual) for n in names}


def image_metrics(o: dict, x: torch.Tensor, m: torch.Tensor, lpips: Any) -> dict[str, torch.Tensor]:
    """Per-image (N,) scores of one inversion output `o` against the ground truth `x`: MSE on the known pixels,
    on the whole image and of the composite in the hole; LPIPS of the whole image and of the composite."""
    with torch.no_grad():
        known = m.expand_as(x)
        hole = 1 - known
        return {
            "mse_known": ((o["image"] - x).square() * known).flatten(1).sum(1) / known.flatten(1).sum(1),
            "mse_full_image": (o["image"] - x).square().flatten(1).mean(1),
            "mse_hole_composite": ((o["composite"] - x).square() * hole).flatten(1).sum(1) / hole.flatten(1).sum(1),
            "lpips_full_image": lpips(o["image"], x).flatten(),
            "lpips_composite": lpips(o["composite"], x).flatten(),
        }


def invert_and_score(name: str, inv: MagecInversion, scene: Scene, n: int, report: dict) -> dict:
    """Invert every test image with one variant and put the mean ± std (and per-image values) of the first `n`
    images' scores, the seconds per image and the final MAGEC loss in report[name]; print them. Returns the
    inversion output (`ws`: (N, num_ws, w_dim), `composite`: (N, 3, 64, 64), ...)."""
    # one batch of all images (per-image Adam updates are independent: the loss is a sum over images)
    t = time.perf_counter()
    o = inv(scene.x, scene.m)
    sec = (time.perf_counter() - t) / len(scene.x)
    per = image_metrics(o, scene.x, scene.m, scene.lpips)
    res = report[name] = {k: mean_std(v[:n].tolist()) for k, v in per.items()}
    res["per_image"] = {k: v[:n].tolist() for k, v in per.items()}
    res["seconds_per_image"] = sec
    res["final_loss_magec"] = float(o["loss_magec"][-1])
    res["machine"] = machine()
    print(name, f"{n} images, {sec:.1f} s/image;", res["machine"], flush=True)
    for k in per:
        print(f"  {k}: {res[k]['mean']:.4f} ± {res[k]['std']:.4f}", flush=True)
    return o


def invert_variants(variants: dict[str, MagecInversion], parts: list[str], scene: Scene, n: int, report: dict,
                    out_json: Path) -> dict[str, dict | None]:
    """Each variant's inversion output where a chosen part needs it (metrics and ecs: every variant; figure:
    magec), else None; the report is saved after each."""
    outs: dict[str, dict | None] = {}
    for name, inv in variants.items():
        outs[name] = None
        if {"metrics", "ecs"} & set(parts) or ("figure" in parts and name == "magec"):
            outs[name] = invert_and_score(name, inv, scene, n, report)
            save_report(report, out_json)
    return outs


def edit_consistency(inv: MagecInversion, ws: torch.Tensor, scene: Scene, attribute: str, strength: float) -> list[float]:
    """ECS per image of one edit, starting from the codes `ws` (K, num_ws, w_dim); the edited renders are
    inverted again with `inv` (complete images)."""
    def invert(img: torch.Tensor, msk: torch.Tensor) -> dict:
        return {"ws": inv(img, msk)["ws"]}

    def render(w: torch.Tensor) -> torch.Tensor:
        return scene.G.synthesis(w, noise_mode="const")

    p_x, x_edit, x_cyc = edit_cycle(invert, render, ws, lambda w, st: scene.dirs.edit(w, attribute, st), strength)
    with torch.no_grad():
        return edit_consistency_score(p_x, x_edit, x_cyc, lambda p, q: scene.lpips(p, q)).tolist()


def add_ecs(edits: list[tuple[str, float]], k: int, variants: dict[str, MagecInversion], outs: dict[str, dict],
            scene: Scene, report: dict, out_json: Path) -> None:
    """ECS of the first `k` images for every edit and variant, from that variant's inversion of the holed
    images, into report[variant]["ecs"][edit] and report[variant]["ecs_all"]; printed and saved after each.
    Edit-major, so a stopped run has both variants of every finished edit."""
    for att, s in edits:
        for name, inv in variants.items():
            res = report[name].setdefault("ecs", {})
            t = time.perf_counter()
            e = edit_consistency(inv, outs[name]["ws"][:k], scene, att, s)
            key = f"{att}{s:+g}"
            res[key] = {**mean_std(e), "per_image": e, "seconds_per_image": (time.perf_counter() - t) / k}
            print(f"{name} ECS {key}: {res[key]['mean']:.3f} ± {res[key]['std']:.3f} (n={k}, "
                  f"{res[key]['seconds_per_image']:.1f} s/image); {machine()}", flush=True)
            report[name]["ecs_all"] = mean_std([v for r in res.values() for v in r["per_image"]])
            save_report(report, out_json)


def save_edit_figure(o: dict, scene: Scene, path: str) -> None:
    """PNG of the first FIGURE_ROWS images, one per row: masked input | MAGEC fill | G(w*) under each of EDITS
    (+cloud −cloud +tree −tree +building −building +water −water), upscaled 2× (nearest)."""
    rows = []
    with torch.no_grad():
        for i in range(min(FIGURE_ROWS, len(scene.x))):
            ws = o["ws"][i:i + 1]
            edits = [scene.G.synthesis(scene.dirs.edit(ws, att, s), noise_mode="const")[0] for att, s in EDITS]
            cells = [scene.x[i] * scene.m[i], o["composite"][i]] + edits
            rows.append(np.concatenate([rgb(c) for c in cells], axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)


def main() -> None:
    """Run the parts chosen on the command line; write `<out>.json` (and `<out>_edits.png` for the figure)."""
    args = parse_args()
    parts, names = args.parts.split(","), args.variants.split(",")
    print(machine(), flush=True)
    scene = load_scene(max(args.images, args.ecs_images))
    report: dict = {"cpu": cpu_model(), "lpips": scene.lpips_label, "images": args.images,
                    "ecs_images": args.ecs_images, "parts": parts, "machine_start": machine()}
    out_json = Path(f"{args.out}.json")
    link = train_linknet_for(names, args.linknet_samples, scene, report)
    variants = build_variants(names, scene, link)
    outs = invert_variants(variants, parts, scene, args.images, report, out_json)
    if "ecs" in parts:
        add_ecs(parse_edits(args.ecs_edits), args.ecs_images, variants, outs, scene, report, out_json)
    report["machine_end"] = machine()
    save_report(report, out_json)
    print(report["machine_end"])
    if "figure" not in parts or outs.get("magec") is None:
        print(f"wrote {out_json}")
        return
    save_edit_figure(outs["magec"], scene, f"{args.out}_edits.png")
    print(f"wrote {args.out}_edits.png, {out_json}")


if __name__ == "__main__":
    main()
