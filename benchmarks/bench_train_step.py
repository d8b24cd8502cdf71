"""Per-part profile of one inpainting training step of `python train.py` (or any overrides of it).

    python benchmarks/bench_train_step.py [--steps 6] [--warmup 2] [--val-batches 4] [--profile] [overrides ...]
    e.g. python benchmarks/bench_train_step.py loss.terms.perceptual.weight=30 model.encoder.bottleneck.depth=4

Runs the same computation as `InpaintingModule.training_step` (SML update, model forward, each loss
term, backward, gradient clipping, Adam step, discriminator step) outside Lightning, timing each part
by wall clock and by process CPU time (all threads: with 2 busy threads CPU ≈ 2 × wall; on a machine
shared with other jobs wall time is inflated more than CPU time). The backward is split by the time
the gradient reaches the generator's output and its W+ input (parts of the autograd graph overlap, so
that split is approximate). Also: data loading per training batch and the cost of one validation pass.
Prints the CPU model and a measured fp32 GEMM rate first.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.flop_counter import FlopCounterMode

from mminvert.losses import MultiScaleLoss
from mminvert.utils.machine import cpu_model, gemm_gflops

CONF = Path(__file__).resolve().parents[1] / "conf"


class Clock:
    """Accumulates (wall s, CPU s) per named part over the measured steps."""

    def __init__(self) -> None:
        self.parts: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.active = True

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        w0, c0 = time.perf_counter(), time.process_time()
        yield
        if self.active:
            self.parts[name].append((time.perf_counter() - w0, time.process_time() - c0))

    def add(self, name: str, wall: float, cpu: float) -> None:
        if self.active:
            self.parts[name].append((wall, cpu))

    def median(self, name: str) -> tuple[float, float]:
        rows = self.parts[name]
        return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def module_timer(module: torch.nn.Module, clock: Clock, name: str) -> None:
    """Time every forward call of `module` under `name`."""
    state = {}

    def pre(*_):
        state["t"] = (time.perf_counter(), time.process_time())

    def post(*_):
        w0, c0 = state["t"]
        clock.add(name, time.perf_counter() - w0, time.process_time() - c0)

    module.register_forward_pre_hook(pre)
    module.register_forward_hook(post)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="measured training steps (medians are printed)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--val-batches", type=int, default=4, help="validation batches timed (scaled to the full set)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, all cores)")
    ap.add_argument("--profile", action="store_true", help="also print torch.profiler's top operators of one step")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of conf/config.yaml")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["paths.output_dir=/tmp/bench_train_step", *args.overrides])
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads, fp32 GEMM {gemm_gflops():.3g} GFLOP/s "
          f"(512x512 matmul, best of 0.3 s); torch {torch.__version__}")
    print(f"overrides: {' '.join(args.overrides) or '(none: the default job)'}")

    torch.manual_seed(0)
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    module = instantiate(cfg.task.module)
    model, loss = module.model, module.loss
    opts = module.configure_optimizers()
    opts = opts[0] if isinstance(opts, tuple) else opts
    opt_e, opt_d = opts[0], (opts[1] if len(opts) > 1 else None)
    adv = loss.adversarial
    model.train(), loss.train()
    clock = Clock()
    module_timer(model.encoder, clock, "encoder fwd")
    module_timer(model.generator.synthesis, clock, "generator fwd")
    terms = dict(loss.terms.items())
    print(f"batch {cfg.data.batch_size}, {cfg.data.resolution} px, loss terms: "
          + ", ".join(f"{k}×{t.weight:g}" for k, t in terms.items()))

    loader = iter(dm.train_dataloader())
    step_totals = []
    for i in range(args.warmup + args.steps):
        clock.active = i >= args.warmup
        w0, c0 = time.perf_counter(), time.process_time()
        with clock("data loading"):
            batch = next(loader)
        with clock("SML update"):
            model.update_mean_latent()
        with clock("model fwd (total)"):
            out = model(batch)
        losses = {}
        for name, term in terms.items():
            with clock(f"loss {name} fwd"):
                value = term(out, batch, loss._perceptual) if isinstance(term, MultiScaleLoss) else term(out, batch)
            losses[name] = term.weight * value
        total = sum(losses.values())
        marks = {}
        out["image"].register_hook(lambda g: marks.setdefault("gen_out", _now()) and None)
        out["ws"].register_hook(lambda g: marks.setdefault("ws", _now()) and None)
        opt_e.zero_grad(set_to_none=True)
        b0 = _now()
        with clock("backward (total)"):
            total.backward()
        b1 = _now()
        if "gen_out" in marks and "ws" in marks:
            g, w = marks["gen_out"], marks["ws"]
            clock.add("  bwd: loss terms → ŷ", g[0] - b0[0], g[1] - b0[1])
            clock.add("  bwd: generator ŷ → W+", w[0] - g[0], w[1] - g[1])
            clock.add("  bwd: W+ → encoder", b1[0] - w[0], b1[1] - w[1])
        with clock("grad clip + Adam step"):
            if module.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), module.grad_clip)
            opt_e.step()
        if adv is not None and opt_d is not None:
            with clock("discriminator step"):
                d = adv.discriminator_loss(out, batch, i)
                opt_d.zero_grad(set_to_none=True)
                sum(d.values()).backward()
                opt_d.step()
        if clock.active:
            step_totals.append((time.perf_counter() - w0, time.process_time() - c0))

    step_w = statistics.median(s[0] for s in step_totals)
    step_c = statistics.median(s[1] for s in step_totals)
    enc_w, enc_c = clock.median("encoder fwd")
    gen_w, gen_c = clock.median("generator fwd")
    fwd_w, fwd_c = clock.median("model fwd (total)")
    clock.parts["  fwd: encoder"] = [(enc_w, enc_c)]
    clock.parts["  fwd: generator"] = [(gen_w, gen_c)]
    clock.parts["  fwd: heads/premod/skip"] = [(fwd_w - enc_w - gen_w, fwd_c - enc_c - gen_c)]
    order = ["data loading", "SML update", "model fwd (total)", "  fwd: encoder", "  fwd: generator",
             "  fwd: heads/premod/skip", *[f"loss {n} fwd" for n in terms], "backward (total)",
             "  bwd: loss terms → ŷ", "  bwd: generator ŷ → W+", "  bwd: W+ → encoder", "grad clip + Adam step",
             "discriminator step"]
    print(f"\ntraining step (median of {args.steps} after {args.warmup} warm-up): "
          f"{step_w:.3f} s wall, {step_c:.3f} s CPU")
    print(f"{'part':<28} {'wall s':>8} {'CPU s':>8} {'% CPU':>7}")
    for name in order:
        if not clock.parts.get(name):
            continue
        w, c = clock.median(name)
        print(f"{name:<28} {w:8.3f} {c:8.3f} {100 * c / step_c:6.1f}%")

    with FlopCounterMode(display=False) as fc:
        out = model(batch)
        lv = loss(out, batch)["total"]
        lv.backward()
    print(f"model+loss fwd+bwd: {fc.get_total_flops() / 1e9:.1f} GFLOP per step (flop counter)")

    if args.val_batches <= 0:
        return
    # ---- validation: a pass over `--val-batches` batches, scaled to the whole validation split
    model.eval()
    val_loader = dm.val_dataloader()
    n_batches = len(val_loader)
    w0, c0 = time.perf_counter(), time.process_time()
    seen = 0
    with torch.no_grad():
        for j, vb in enumerate(val_loader):
            if j >= args.val_batches:
                break
            model(vb)
            seen += 1
    vw, vc = (time.perf_counter() - w0) / seen, (time.process_time() - c0) / seen
    print(f"validation: {vw:.3f} s wall / {vc:.3f} s CPU per batch of {val_loader.batch_size} "
          f"(incl. data), × {n_batches} batches = {vw * n_batches:.1f} s wall per validation pass")

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        model.train()
        batch = next(loader)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            out = model(batch)
            loss(out, batch)["total"].backward()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


if __name__ == "__main__":
    main()
