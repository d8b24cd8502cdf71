"""Parameter count, GFLOP/img and CPU latency of the inversion models (`model=` presets).

    python benchmarks/bench_model.py [--presets mminvertfill mminvertfill_256] [--batch 1] [--reps 2]

The 256 px preset is built with a random config-F generator (`model/generator=random256`,
pretrained: false) — figures do not depend on the weights. FLOPs are counted with
torch.utils.flop_counter (convolutions, matrix products, attention), forward only, per image.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.flop_counter import FlopCounterMode

CONF = Path(__file__).resolve().parents[1] / "conf"
NUM_CLASSES = 11  # segmentation classes of the built-in scenes data set


def build(preset: str) -> torch.nn.Module:
    overrides = [f"model={preset}", f"++data.num_classes={NUM_CLASSES}"]
    if preset.endswith("_256"):
        overrides.append("model/generator=random256")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return instantiate(cfg.model).eval()


def batch(R: int, b: int) -> dict[str, torch.Tensor]:
    return dict(image=torch.rand(b, 3, R, R) * 2 - 1, mask=(torch.rand(b, 1, R, R) > 0.4).float(),
                seg=torch.randint(0, NUM_CLASSES, (b, R, R)), edge=(torch.rand(b, 1, R, R) > 0.9).float())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["mminvertfill", "invertfill", "psp", "mminvertfill_256"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    print(f"{'preset':<18} {'res':>4} {'encoder M':>10} {'total M':>8} {'GFLOP/img':>10} {'enc GFLOP':>10} {'s/img':>7}")
    for preset in args.presets:
        model = build(preset)
        R = model.generator.resolution
        x = batch(R, args.batch)
        trainable = sum(p.numel() for p in model.trainable_parameters()) / 1e6
        total = sum(p.numel() for p in model.parameters()) / 1e6
        with torch.no_grad():
            with FlopCounterMode(display=False) as fc:
                model(x)
            with FlopCounterMode(display=False) as fc_enc:
                model.encoder(x)
            model(x)  # warm-up
            best = float("inf")
            for _ in range(args.reps):
                t0 = time.perf_counter()
                model(x)
                best = min(best, time.perf_counter() - t0)
        print(f"{preset:<18} {R:>4} {trainable:10.2f} {total:8.2f} {fc.get_total_flops() / 1e9 / args.batch:10.2f} "
              f"{fc_enc.get_total_flops() / 1e9 / args.batch:10.2f} {best / args.batch:7.3f}")


if __name__ == "__main__":
    main()
