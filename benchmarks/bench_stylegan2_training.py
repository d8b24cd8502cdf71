"""StyleGAN2 training cost: measured s/step on this machine, and FLOPs / activation memory per step.

Timing runs the real `StyleGAN2Module` under a Lightning Trainer on in-memory random images (no data
loading cost), over whole lazy-regularisation cycles (16 steps: one R1 step, four path-length steps),
after warm-up steps. FLOPs are counted with torch.utils.flop_counter's formulas on the meta device (shapes only,
nothing is computed), phase by phase (D main, R1, G main, path length; forward + backward, including
the double backward of the regularisers); bytes saved for backward are summed with saved-tensor hooks
in the same pass (an upper bound on activation memory: views of one buffer are counted twice).

    python benchmarks/bench_stylegan2_training.py --time tiny:32:4 small32:32:16 scenes64:64:16
    python benchmarks/bench_stylegan2_training.py --flops scenes64 256_configf --batch 4
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import flop_registry

from mminvert.runner.run import build_module
from mminvert.tasks.stylegan2 import _frozen

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_model(preset: str, overrides: list[str]) -> DictConfig:  # noqa: F821
    """The StyleGAN2 task with the `gan` preset (conf/gan/<preset>.yaml)."""
    # small32: the scenes64 networks (64 wide, 2-layer mapping, w_dim 128) at 32 px (conf/gan/small32.yaml).
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=["task=stylegan2", f"gan={preset}", "~data", "paths.output_dir=/tmp",
                                            *overrides], return_hydra_config=False)


class FlopCount(TorchDispatchMode):
    """FLOPs of every dispatched op with a formula in torch's flop_registry (convolutions, matmuls).
    (FlopCounterMode's module tracker does not support torch.autograd.grad, which R1 and PL use.)"""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


class RandomImages(Dataset):
    def __init__(self, resolution: int, n: int = 256) -> None:
        self.x = torch.rand(n, 3, resolution, resolution) * 2 - 1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.x[i]}


class Timer(pl.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.t0, self.steps = warmup, None, 0

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == self.warmup:
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, *args) -> None:
        if self.t0 is not None:
            self.steps += 1
            self.elapsed = time.perf_counter() - self.t0


def time_preset(preset: str, resolution: int, batch: int, steps: int, warmup: int, overrides: list[str]) -> float:
    cfg = compose_model(preset, overrides)
    torch.manual_seed(0)
    module = build_module(cfg)
    timer = Timer(warmup)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=warmup + steps, logger=False, callbacks=[timer],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(RandomImages(resolution), batch_size=batch, shuffle=True, drop_last=True))
    return timer.elapsed / timer.steps


def count_phases(preset: str, batch: int, overrides: list[str]) -> dict[str, tuple[float, float]]:
    """FLOPs and saved-for-backward bytes of each phase for one minibatch, on the meta device."""
    cfg = compose_model(preset, overrides)
    with torch.device("meta"):
        module = build_module(cfg)
    module = module.to("meta")
    g = module.generator
    real = torch.randn(batch, g.img_channels, g.resolution, g.resolution, device="meta")
    phases = {"d_main": lambda: module.d_main_loss(real), "r1": lambda: module.r1_loss(real),
              "g_main": lambda: module.g_main_loss(batch), "pl": lambda: module.pl_loss(batch)}
    out = {}
    for name, fn in phases.items():
        saved = [0]

        def pack(t: torch.Tensor) -> torch.Tensor:
            saved[0] += t.numel() * t.element_size()
            return t

        with FlopCount() as counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            ctx = _frozen(module.discriminator) if name == "g_main" else torch.enable_grad()
            with ctx:
                loss, _ = fn()
                loss.backward()
        module.zero_grad(set_to_none=True)
        out[name] = (float(counter.total), float(saved[0]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", nargs="*", default=[], metavar="PRESET:RES:BATCH")
    ap.add_argument("--flops", nargs="*", default=[], metavar="PRESET")
    ap.add_argument("--batch", type=int, default=4, help="per-GPU batch for --flops")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("overrides", nargs="*", help="Hydra overrides applied to every preset")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    for spec in args.time:
        preset, res, batch = spec.split(":")
        s = time_preset(preset, int(res), int(batch), args.steps, args.warmup, args.overrides)
        print(f"time  {preset:<22} {res:>4} px batch {batch:>3}: {s:.3f} s/step ({int(batch) / s:.1f} img/s)")
    for preset in args.flops:
        cfg = compose_model(preset, args.overrides)
        m = cfg.task.module
        per = count_phases(preset, args.batch, args.overrides)
        # Average step: main phases every step, R1 every d_reg_interval, path length every g_reg_interval.
        weight = {"d_main": 1.0, "g_main": 1.0, "r1": 1 / m.d_reg_interval if m.r1_gamma > 0 else 0.0,
                  "pl": 1 / m.g_reg_interval if m.pl_weight > 0 else 0.0}
        step_flops = sum(per[k][0] * weight[k] for k in per)
        peak_saved = max(b for _, b in per.values())
        n_g = sum(p.numel() for p in build_module(cfg).generator.parameters())
        n_d = sum(p.numel() for p in build_module(cfg).discriminator.parameters())
        print(f"flops {preset:<22} batch {args.batch}: " + ", ".join(
            f"{k} {f / 1e9:.1f} GFLOP / {b / 2**30:.2f} GiB saved" for k, (f, b) in per.items()))
        print(f"      average step {step_flops / 1e9:.1f} GFLOP = {step_flops / args.batch / 1e9:.1f} GFLOP/img; "
              f"peak saved activations {peak_saved / 2**30:.2f} GiB; G {n_g / 1e6:.1f}M, D {n_d / 1e6:.1f}M params "
              f"(weights+grads+Adam+EMA {((n_g + n_d) * 16 + n_g * 4) / 2**30:.2f} GiB)")


if __name__ == "__main__":
    main()
