"""Time StyleGAN2 synthesis: forward, and forward + backward to W+ (frozen weights, as in inversion).

Compares mminvert's ops with a straightforward reference implementation of the same network (grouped
modulated convolution, up-sampling by reshape/zero-insertion then a per-channel FIR convolution).
FLOPs are counted with torch.utils.flop_counter on mminvert's implementation (convolutions and
matrix products, forward and the backward actually executed); GEMM peak is measured with a large
fp32 matmul on the same threads.

    python benchmarks/bench_generator.py [--resolutions 64 256] [--batch 4] [--reps 3]
"""
from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterator

import torch
from timing import best_time  # benchmarks/timing.py (scripts run from this folder)
from torch.utils.flop_counter import FlopCounterMode

from mminvert.stylegan2 import StyleGAN2Generator
from mminvert.stylegan2 import synthesis as synthesis_module
from mminvert.stylegan2.reference_ops import modulated_conv2d_ref, upfirdn2d_ref


@contextlib.contextmanager
def reference_ops(G: StyleGAN2Generator) -> Iterator[None]:
    """Swap in the reference ops (grouped, demodulated weights; NCHW) for the duration of the block."""
    saved = synthesis_module.modulated_conv2d, synthesis_module.upsample2d
    layers = [m for m in G.modules() if hasattr(m, "fused") or hasattr(m, "channels_last")]
    for m in layers:
        m.fused, m.channels_last = True, False

    def modconv(x, w, s, demodulate=True, up=False, kernel=None, fused=False):
        return modulated_conv2d_ref(x, w, s, demodulate=demodulate, up=up, kernel=kernel)

    synthesis_module.modulated_conv2d = modconv
    synthesis_module.upsample2d = lambda x, k: upfirdn2d_ref(x, k, up=2, pad=(2, 1))
    try:
        yield
    finally:
        synthesis_module.modulated_conv2d, synthesis_module.upsample2d = saved
        for m in layers:
            m.fused, m.channels_last = False, True


def gemm_peak(n: int = 4096, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, reps) / 1e9


def count_flops(fn: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = gemm_peak()
    print(f"torch {torch.__version__}, {args.threads} threads, fp32 GEMM peak {peak:.0f} GFLOP/s, batch {args.batch}")
    print(f"{'res':>4} {'pass':<9} {'impl':<10} {'s/step':>8} {'img/s':>8} {'GFLOP/img':>10} {'GFLOP/s':>8} {'%peak':>6}")
    for res in args.resolutions:
        G = StyleGAN2Generator(res).freeze()  # config-F widths
        ws0 = G.mapping(torch.randn(args.batch, G.z_dim)).unsqueeze(1).repeat(1, G.num_ws, 1)

        def fwd() -> None:
            with torch.no_grad():
                G.synthesis(ws0)

        def fwd_bwd() -> None:
            ws = ws0.clone().requires_grad_(True)
            G.synthesis(ws).square().mean().backward()

        for name, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
            flops = count_flops(fn) / args.batch
            results = {}
            for impl, ctx in (("reference", reference_ops(G)), ("mminvert", contextlib.nullcontext())):
                with ctx:
                    results[impl] = best_time(fn, args.reps)
            for impl, t in results.items():
                gfs = flops * args.batch / t / 1e9
                print(f"{res:>4} {name:<9} {impl:<10} {t:8.3f} {args.batch / t:8.2f} {flops / 1e9:10.2f} "
                      f"{gfs:8.1f} {100 * gfs / peak:5.1f}%")
            print(f"{res:>4} {name:<9} speed-up {results['reference'] / results['mminvert']:.2f}x")


if __name__ == "__main__":
    main()
