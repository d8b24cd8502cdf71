"""Wall time of `evaluate()` and where it goes: Inception images and seconds, with and without the
real-image feature cache.

    python benchmarks/bench_evaluate.py RUN [--num-images 32] [--baselines telea] [--batch-size 16]

RUN is a run folder or checkpoint (e.g. `python train.py experiment=inpainting_tiny`). Modes: `uncached`
(feature_cache=null: real features once per run), `cold` (empty cache directory) and `warm` (the file the
cold run wrote). Run the same command with PYTHONPATH pointing at an older checkout to time that code
(its config has no `feature_cache`: one mode, `old code`). A digest of each mode's results.json numbers
shows they are identical. Also times Inception alone on a 16-image batch (one method's pass) against one
forward of 48 (a batch's real images and two methods' composites together).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time  # noqa: E402

import mminvert  # noqa: E402
from mminvert.evaluation import evaluate  # noqa: E402
from mminvert.metrics import InceptionFeatures  # noqa: E402

CONF = Path(mminvert.__file__).resolve().parents[1] / "conf"


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def gemm_gflops(n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, 5) / 1e9


class InceptionMeter:
    """Counts images and seconds of every InceptionFeatures forward."""

    def __init__(self) -> None:
        self.images, self.seconds, self.calls = 0, 0.0, 0
        forward = InceptionFeatures.forward

        def timed(net, images):
            t0 = time.perf_counter()
            out = forward(net, images)
            self.seconds += time.perf_counter() - t0
            self.images += images.shape[0]
            self.calls += 1
            return out

        InceptionFeatures.forward = timed

    def reset(self) -> None:
        self.images, self.seconds, self.calls = 0, 0.0, 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run folder or checkpoint")
    ap.add_argument("--num-images", type=int, default=32)
    ap.add_argument("--baselines", default="telea", help="comma-separated baseline rows")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--buckets", default="0.1-0.3,0.4-0.6,0.7-0.9")
    ap.add_argument("--modes", default="uncached,cold,warm")
    ap.add_argument("--micro", action="store_true", help="also time Inception at batch 16 vs 48")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # evaluate's progress lines
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"fp32 GEMM {gemm_gflops():.0f} GFLOP/s (machine shared with other jobs: figures vary)", flush=True)
    meter = InceptionMeter()
    tmp = Path(tempfile.mkdtemp(prefix="bench_evaluate_"))
    base = [f"ckpt={args.run}", f"num_images={args.num_images}", f"batch_size={args.batch_size}",
            f"baselines=[{args.baselines}]", f"buckets=[{args.buckets}]", f"paths.data_dir={tmp}/data"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        new_code = "feature_cache" in compose("evaluate", overrides=[*base, f"output_dir={tmp}/probe"])
    modes = args.modes.split(",") if new_code else ["old code"]
    print(f"{args.num_images} images x {len(args.buckets.split(','))} buckets, methods: model + {args.baselines}, "
          f"batch {args.batch_size}", flush=True)
    print(f"{'mode':10s} {'wall s':>8s} {'incep img':>10s} {'fwd':>5s} {'incep s':>8s} {'s/img':>6s}  results digest")
    for mode in modes:
        extra = {"uncached": ["feature_cache=null"], "cold": [f"feature_cache={tmp}/cache"],
                 "warm": [f"feature_cache={tmp}/cache"], "old code": []}[mode]
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("evaluate", overrides=[*base, *extra, f"output_dir={tmp}/{mode.replace(' ', '_')}"])
        meter.reset()
        t0 = time.perf_counter()
        payload = evaluate(cfg)
        wall = time.perf_counter() - t0
        digest = hashlib.sha1(json.dumps(payload["results"], sort_keys=True).encode()).hexdigest()[:12]
        per = meter.seconds / max(meter.images, 1)
        print(f"{mode:10s} {wall:8.1f} {meter.images:10d} {meter.calls:5d} {meter.seconds:8.1f} {per:6.3f}  {digest}",
              flush=True)
    if args.micro:
        net = InceptionFeatures()
        x = torch.rand(48, 3, 64, 64) * 2 - 1
        separate = best_time(lambda: [net(c) for c in x.split(16)], 2)
        together = best_time(lambda: net(x), 2)
        print(f"Inception, 48 images: 3 forwards of 16 {separate:.1f} s, one forward of 48 {together:.1f} s "
              f"({separate / together:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
