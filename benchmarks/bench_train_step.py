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


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="measured training steps (medians are printed)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--val-batches", type=int, default=4, help="validation batches timed (scaled to the full set)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, all cores)")
    ap.add_argument("--profile", action="store_true", help="also print torch.profiler's top operators of one step")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of conf/config.yaml")
    return ap.parse_args()


class Job:
    """The composed job's data, module, model, loss and optimisers, ready for timed steps outside Lightning."""

    def __init__(self, overrides: list[str]) -> None:
        with initialize_config_dir(str(CONF), version_base="1.3"):
            self.cfg = compose("config", overrides=["paths.output_dir=/tmp/bench_train_step", *overrides])
        torch.manual_seed(0)
        self.dm = instantiate(self.cfg.data)
        self.dm.prepare_data()
        self.dm.setup("fit")
        self.module = instantiate(self.cfg.task.module)
        self.model, self.loss = self.module.model, self.module.loss
        opts = self.module.configure_optimizers()
        opts = opts[0] if isinstance(opts, tuple) else opts
        self.opt_e, self.opt_d = opts[0], (opts[1] if len(opts) > 1 else None)
        self.terms = dict(self.loss.terms.items())
        self.model.train(), self.loss.train()


def timed_step(job: Job, batch: dict, clock: Clock, step: int) -> None:
    """One training step as `InpaintingModule.training_step` computes it, each part timed under its name."""
    model, loss = job.model, job.loss
    with clock("SML update"):
        model.update_mean_latent()
    with clock("model fwd (total)"):
        out = model(batch)
    losses = {}
    for name, term in job.terms.items():
        with clock(f"loss {name} fwd"):
            value = term(out, batch, loss._perceptual) if isinstance(term, MultiScaleLoss) else term(out, batch)
        losses[name] = term.weight * value
    total = sum(losses.values())
    marks = {}
    out["image"].register_hook(lambda g: marks.setdefault("gen_out", _now()) and None)
    out["ws"].register_hook(lambda g: marks.setdefault("ws", _now()) and None)
    job.opt_e.zero_grad(set_to_none=True)
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
        if job.module.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), job.module.grad_clip)
        job.opt_e.step()
    adv = loss.adversarial
    if adv is not None and job.opt_d is not None:
        with clock("discriminator step"):
            d = adv.discriminator_loss(out, batch, step)
            job.opt_d.zero_grad(set_to_none=True)
            sum(d.values()).backward()
            job.opt_d.step()


def print_breakdown(clock: Clock, terms: dict, step_totals: list[tuple[float, float]], args: argparse.Namespace) -> None:
    """The median wall and CPU seconds of each part, and its share of the step's CPU time."""
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


def time_validation(job: Job, val_batches: int) -> None:
    """A pass over `val_batches` validation batches, scaled to the whole validation split."""
    job.model.eval()
    val_loader = job.dm.val_dataloader()
    n_batches = len(val_loader)
    w0, c0 = time.perf_counter(), time.process_time()
    seen = 0
    with torch.no_grad():
        for j, vb in enumerate(val_loader):
            if j >= val_batches:
                break
            job.model(vb)
            seen += 1
    vw, vc = (time.perf_counter() - w0) / seen, (time.process_time() - c0) / seen
    print(f"validation: {vw:.3f} s wall / {vc:.3f} s CPU per batch of {val_loader.batch_size} "
          f"(incl. data), × {n_batches} batches = {vw * n_batches:.1f} s wall per validation pass")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    job = Job(args.overrides)
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads, fp32 GEMM {gemm_gflops():.3g} GFLOP/s "
          f"(512x512 matmul, best of 0.3 s); torch {torch.__version__}")
    print(f"overrides: {' '.join(args.overrides) or '(none: the default job)'}")
    clock = Clock()
    module_timer(job.model.encoder, clock, "encoder fwd")
    module_timer(job.model.generator.synthesis, clock, "generator fwd")
    print(f"batch {job.cfg.data.batch_size}, {job.cfg.data.resolution} px, loss terms: "
          + ", ".join(f"{k}×{t.weight:g}" for k, t in job.terms.items()))
    loader = iter(job.dm.train_dataloader())
    step_totals = []
    for i in range(args.warmup + args.steps):
        clock.active = i >= args.warmup
        w0, c0 = time.perf_counter(), time.process_time()
        with clock("data loading"):
            batch = next(loader)
        timed_step(job, batch, clock, i)
        if clock.active:
            step_totals.append((time.perf_counter() - w0, time.process_time() - c0))
    print_breakdown(clock, job.terms, step_totals, args)
    with FlopCounterMode(display=False) as fc:
        job.loss(job.model(batch), batch)["total"].backward()
    print(f"model+loss fwd+bwd: {fc.get_total_flops() / 1e9:.1f} GFLOP per step (flop counter)")
    if args.val_batches > 0:
        time_validation(job, args.val_batches)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        job.model.train()
        batch = next(loader)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            job.loss(job.model(batch), batch)["total"].backward()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


if __name__ == "__main__":
    main()
