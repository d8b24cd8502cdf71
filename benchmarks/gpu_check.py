"""GPU readiness check of mminvert: numerics, smoke runs, throughput and peak memory, in one run.

    python benchmarks/gpu_check.py                                  # CUDA, full sizes, at most ~9 minutes
    python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gpu_check.json   # the CPU mode the tests run

Stages (each one's result is added to the JSON file as soon as it ends; a failing stage is recorded with its
error and the next one runs; a stage that would start after `--budget-s` is recorded as skipped):

- numerics_ops: up/down-sampling and modulated convolution (shared-weight and grouped) on the device against
  the same ops in float64 on the CPU, with TF32 off and on;
- numerics_generator: the bundled scenes64 generator on the CPU vs the device (fixed latents, const noise);
- numerics_bf16_step: one MMInvertFill training step (256 px, paper-scale model) in bf16 autocast vs fp32: the
  PSNR between the two outputs, each loss term, the cosine between the encoder gradients;
- smoke_<task>: a few training steps of each task (inpainting, stylegan2, diverse, wgan_gp) through `train()`;
- smoke_ddp: the inpainting task under DDP on one device (NCCL on CUDA, gloo on CPU): strategy choice and the
  checkpoint's collectives;
- smoke_bf16_mixed: StyleGAN2 training with trainer.precision=bf16-mixed;
- throughput_stylegan2: config-F 256 px training img/s (and s/kimg), fp32 vs bf16-mixed, channels_last on/off;
- throughput_mminvertfill: MMInvertFill 256 px training img/s at batch 1 and 8;
- throughput_evaluation: inpainting + metrics img/s of the validation pass (PSNR/SSIM/L1, LPIPS with random
  weights, Inception when its weights are installed; --tiny: PSNR/SSIM/L1 only).

Peak memory is torch.cuda.max_memory_allocated per measurement (null on CPU). `--tiny` shrinks every size to
the 32 px test presets. Nothing is downloaded: networks without bundled weights are random (pretrained: false).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.data import DataLoader, Dataset, default_collate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CONF = REPO / "conf"

from mminvert.io import load_generator  # noqa: E402
from mminvert.runner.run import build_module, train  # noqa: E402
from mminvert.stylegan2.modconv import modulated_conv2d  # noqa: E402
from mminvert.stylegan2.ops import downsample2d, fir_kernel, upsample2d  # noqa: E402
from mminvert.utils.machine import cpu_model  # noqa: E402
from mminvert.utils.precision import fp32_matmul  # noqa: E402

# The smallest preset of each task (32 px, narrow); the trainer presets are the tasks' own.
SMOKE_TASKS = {
    "inpainting": ["experiment=inpainting_tiny", "+trainer.limit_val_batches=2"],
    "stylegan2": ["experiment=stylegan2_tiny", "callbacks.samples.every_n_steps=0", "callbacks.fid.enabled=false"],
    "diverse": ["experiment=diverse_tiny", "+trainer.limit_val_batches=2"],
    "wgan_gp": ["experiment=wgan_gp_tiny", "callbacks.samples.every_n_steps=0"],
}
# MMInvertFill at 256 px as the paper presets build it, with a random generator and random perceptual network.
MMINVERTFILL_256 = ["model=mminvertfill_256", "model/generator=random256", "loss=mminvertfill",
                    "loss.terms.perceptual.pretrained=false", "optim=adam"]
NVLABS_ANCHOR = {"source": "NVlabs stylegan2-ada-pytorch / stylegan3 docs/configs.md", "resolution": 256,
                 "gpus": "1x A100", "s_per_kimg": 12.53}


class Report:
    """The JSON record; `stage(name)` runs one stage, records its result or error, and writes the file."""

    def __init__(self, path: Path, budget_s: float, meta: dict[str, Any]) -> None:
        self.path, self.budget_s, self.t0 = path, budget_s, time.perf_counter()
        self.data: dict[str, Any] = {"meta": meta, "stages": {}}
        self.write()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=_plain) + "\n")
        os.replace(tmp, self.path)

    def stage(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        if self.elapsed() > self.budget_s:
            result: dict[str, Any] = {"ok": None, "skipped": f"time budget of {self.budget_s:.0f} s spent"}
        else:
            t0 = time.perf_counter()
            try:
                result = {"ok": True, **fn()}
            except Exception as e:  # recorded; the next stage runs
                result = {"ok": False, "error": f"{type(e).__name__}: {e}",
                          "traceback": traceback.format_exc()[-3000:]}
            result["seconds"] = round(time.perf_counter() - t0, 2)
        self.data["stages"][name] = result
        self.data["meta"]["elapsed_s"] = round(self.elapsed(), 1)
        self.write()
        status = "skipped" if result["ok"] is None else "ok" if result["ok"] else "FAILED: " + result["error"]
        print(f"[{self.elapsed():6.1f} s] {name}: {status}", flush=True)


def _plain(x: Any) -> Any:
    if torch.is_tensor(x):
        return x.item() if x.numel() == 1 else x.tolist()
    return str(x)


def compose_cfg(out: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"paths.output_dir={out}", f"paths.data_dir={out}/data", *overrides])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def peak_memory(device: torch.device, into: dict[str, Any]) -> Iterator[None]:
    """into["peak_memory_gb"]: the block's peak of allocated CUDA memory (None on CPU)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    yield
    into["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if device.type == "cuda" else None


def compare(out: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    out, ref = out.detach().double().cpu(), ref.detach().double().cpu()
    err = (out - ref).abs().max().item()
    return {"max_abs_err": err, "rel_err": err / max(ref.abs().max().item(), 1e-30)}


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0) -> float:
    mse = (a.detach().double().cpu() - b.detach().double().cpu()).square().mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(data_range**2 / mse)


# ----------------------------------------------------------------------------------------------- numerics
def numerics_ops(device: torch.device, tiny: bool) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    b, c, r = (2, 16, 16) if tiny else (4, 256, 64)
    x, k = torch.randn(b, c, r, r, generator=g), fir_kernel()
    w, s = torch.randn(c, c, 3, 3, generator=g) / (c * 9) ** 0.5, torch.randn(b, c, generator=g)
    ops: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
        "upsample2d": lambda x, k, w, s: upsample2d(x, k),
        "downsample2d": lambda x, k, w, s: downsample2d(x, k),
        "modconv": lambda x, k, w, s: modulated_conv2d(x, w, s),
        "modconv_up": lambda x, k, w, s: modulated_conv2d(x, w, s, up=True, kernel=k),
        "modconv_fused": lambda x, k, w, s: modulated_conv2d(x, w, s, fused=True),
        "modconv_fused_up": lambda x, k, w, s: modulated_conv2d(x, w, s, up=True, kernel=k, fused=True),
    }
    result: dict[str, Any] = {"shape": [b, c, r, r]}
    worst = 0.0
    for name, op in ops.items():
        ref = op(x.double(), k.double(), w.double(), s.double())
        args = [t.to(device) for t in (x, k, w, s)]
        with fp32_matmul():
            fp32 = compare(op(*args), ref)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        tf32 = compare(op(*args), ref)
        result[name] = {"fp32": fp32, "tf32": tf32}
        worst = max(worst, fp32["rel_err"])
    result["worst_fp32_rel_err"] = worst
    if worst > 1e-4:
        raise AssertionError(f"an op differs from its float64 reference by {worst:.2e} (relative) in fp32: {result}")
    return result


def numerics_generator(device: torch.device, tiny: bool) -> dict[str, Any]:
    g = load_generator("scenes64").eval()
    z = torch.randn(2 if tiny else 16, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = g(z, noise_mode="const")
        with fp32_matmul():
            out = g.to(device)(z.to(device), noise_mode="const")
    return {"images": list(ref.shape), **compare(out, ref), "psnr_db": psnr(out, ref)}


def _batch(cfg, size: int) -> dict[str, Any]:
    """`size` training samples of the configured data (a DataModule's train split), collated."""
    dm = instantiate(cfg.data)
    ds = dm.build("train")
    return default_collate([ds[i] for i in range(size)])


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def numerics_bf16_step(device: torch.device, tiny: bool, work: Path) -> dict[str, Any]:
    cfg = compose_cfg(work / "bf16_step", *(["experiment=inpainting_tiny"] if tiny else MMINVERTFILL_256))
    torch.manual_seed(0)
    module = build_module(cfg).to(device)
    module.model.train()
    batch = _to(_batch(cfg, 2), device)
    params = [p for p in module.model.encoder.parameters() if p.requires_grad]
    runs = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        torch.manual_seed(1)  # the same noise inputs in both
        ctx = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
        with fp32_matmul(), ctx:
            out = module.model(batch)
            losses = module.loss(out, batch)
        module.zero_grad(set_to_none=True)
        losses["total"].float().backward()
        grad = torch.cat([p.grad.flatten().float() for p in params if p.grad is not None])
        runs[name] = (out["composite"].float().detach(), {k: float(v) for k, v in losses.items()}, grad)
    (o32, l32, g32), (o16, l16, g16) = runs["fp32"], runs["bf16"]
    cosine = torch.nn.functional.cosine_similarity(g32, g16, dim=0).item()
    return {"resolution": int(o32.shape[-1]), "output_psnr_db": psnr(o16, o32),
            "losses": {k: {"fp32": l32[k], "bf16": l16[k], "rel_diff": abs(l16[k] - l32[k]) / max(abs(l32[k]), 1e-12)}
                       for k in l32},
            "encoder_grad_cosine": cosine}


# -------------------------------------------------------------------------------------------- smoke runs
def _finish_distributed() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def smoke(device: torch.device, work: Path, name: str, overrides: list[str], steps: int) -> dict[str, Any]:
    out = work / f"smoke_{name}"
    cfg = compose_cfg(out, *overrides, f"trainer.accelerator={'gpu' if device.type == 'cuda' else 'cpu'}",
                      "trainer.devices=1", f"trainer.max_steps={steps}", "++trainer.enable_progress_bar=false",
                      "logger=csv", "callbacks.run_estimate=null")
    result: dict[str, Any] = {"steps": steps}
    try:
        with peak_memory(device, result):
            train(cfg)
    finally:
        _finish_distributed()
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    if ckpt["global_step"] != steps:
        raise AssertionError(f"the run stopped at step {ckpt['global_step']}, expected {steps}")
    result["global_step"] = ckpt["global_step"]
    return result


# -------------------------------------------------------------------------------------------- throughput
class _Cycle(Dataset):
    """`length` items cycling through `items` (training data without loading cost)."""

    def __init__(self, items: list[Any], length: int) -> None:
        self.items, self.length = items, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> Any:
        return self.items[i % len(self.items)]


class _StepTimer(pl.Callback):
    """Wall time of the training steps after `warmup` steps (synchronised with the device)."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.t0, self.steps, self.elapsed = warmup, None, 0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup:
            sync(pl_module.device)
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.t0 is not None:
            sync(pl_module.device)
            self.steps += 1
            self.elapsed = time.perf_counter() - self.t0


def _time_fit(module: pl.LightningModule, loader: DataLoader, device: torch.device, precision: str, warmup: int,
              steps: int) -> dict[str, Any]:
    timer = _StepTimer(warmup)
    trainer = pl.Trainer(accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision=precision,
                         max_steps=warmup + steps, logger=False, callbacks=[timer], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, benchmark=device.type == "cuda")
    result: dict[str, Any] = {}
    with peak_memory(device, result):
        trainer.fit(module, loader)
    s_per_step = timer.elapsed / max(timer.steps, 1)
    result.update({"steps_timed": timer.steps, "s_per_step": s_per_step,
                   "img_per_s": loader.batch_size / s_per_step})
    return result


def throughput_stylegan2(device: torch.device, tiny: bool, work: Path) -> dict[str, Any]:
    gan, res, batch = ("tiny", 32, 4) if tiny else ("256_configf", 256, 32)
    warmup, steps = (1, 3) if tiny else (4, 16)  # 16 steps: one whole lazy-regularisation cycle
    images = [{"image": torch.rand(3, res, res) * 2 - 1} for _ in range(batch)]
    loader = DataLoader(_Cycle(images, batch * (warmup + steps + 2)), batch_size=batch, drop_last=True)
    result: dict[str, Any] = {"gan": gan, "resolution": res, "batch": batch, "nvlabs_anchor": NVLABS_ANCHOR}
    for precision in ("32-true", "bf16-mixed"):
        for channels_last in (True, False):
            cfg = compose_cfg(work / "sg2", "task=stylegan2", f"gan={gan}", f"task.module.channels_last={channels_last}")
            torch.manual_seed(0)
            r = _time_fit(build_module(cfg), loader, device, precision, warmup, steps)
            r["s_per_kimg"] = 1000 / r["img_per_s"]
            result[f"{precision}{'_channels_last' if channels_last else ''}"] = r
    return result


def throughput_mminvertfill(device: torch.device, tiny: bool, work: Path) -> dict[str, Any]:
    overrides = ["experiment=inpainting_tiny"] if tiny else MMINVERTFILL_256
    batches = (1, 4) if tiny else (1, 8)
    warmup, steps = (1, 2) if tiny else (3, 10)
    cfg = compose_cfg(work / "mmi", *overrides)
    samples = [dict(zip(b.keys(), v)) for b in [_batch(cfg, max(batches))] for v in zip(*b.values())]
    result: dict[str, Any] = {"resolution": int(cfg.data.resolution), "autocast_bf16": bool(cfg.task.module.bf16)}
    for batch in batches:
        loader = DataLoader(_Cycle(samples, batch * (warmup + steps + 2)), batch_size=batch, drop_last=True)
        torch.manual_seed(0)
        result[f"batch_{batch}"] = _time_fit(build_module(cfg), loader, device, "32-true", warmup, steps)
    return result


def throughput_evaluation(device: torch.device, tiny: bool, work: Path) -> dict[str, Any]:
    from mminvert.metrics import InpaintingMetrics
    from mminvert.metrics.inception import find_inception_weights

    cfg = compose_cfg(work / "eval", *(["experiment=inpainting_tiny"] if tiny else MMINVERTFILL_256))
    module = build_module(cfg).to(device).eval()
    batch_size, reps = (4, 2) if tiny else (16, 8)
    batch = _to(_batch(cfg, batch_size), device)
    names = ["psnr", "ssim", "l1_hole"] + ([] if tiny else ["lpips"])  # --tiny: no LPIPS (its import is slow)
    result: dict[str, Any] = {"resolution": int(cfg.data.resolution), "batch": batch_size}
    try:
        find_inception_weights()
        names += ["fid", "p_ids", "u_ids"]
    except FileNotFoundError:
        result["inception"] = "skipped: no Inception weights installed"
    metrics = InpaintingMetrics(names, lpips_allow_random=True)

    def one_batch() -> None:
        with torch.no_grad(), module._autocast():
            out = module.model(batch)
        metrics.update(out["composite"].float(), batch["image"], batch["mask"])

    with peak_memory(device, result):
        one_batch()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            one_batch()
        sync(device)
    result["img_per_s"] = batch_size * reps / (time.perf_counter() - t0)
    result["metrics"] = names
    return result


# ------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--tiny", action="store_true", help="32 px test presets everywhere (the CPU mode of the tests)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "gpu_check.json", help="the JSON file written")
    ap.add_argument("--budget-s", type=float, default=540.0, help="stages that would start later are skipped")
    ap.add_argument("--only", nargs="*", default=None, help="run only these stages")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device is visible (use --device cpu --tiny for the CPU mode)")
    torch.backends.cudnn.benchmark = device.type == "cuda"
    meta: dict[str, Any] = {"device": str(device), "tiny": args.tiny, "torch": torch.__version__,
                            "python": platform.python_version(), "cpu": cpu_model(),
                            "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        meta.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda,
                    capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
    report = Report(args.out, args.budget_s, meta)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        work = Path(tmp)
        stages: dict[str, Callable[[], dict[str, Any]]] = {
            "numerics_ops": lambda: numerics_ops(device, args.tiny),
            "numerics_generator": lambda: numerics_generator(device, args.tiny),
            "numerics_bf16_step": lambda: numerics_bf16_step(device, args.tiny, work),
            **{f"smoke_{task}": (lambda o=o, t=task: smoke(device, work, t, o, 3)) for task, o in SMOKE_TASKS.items()},
            "smoke_ddp": lambda: smoke(device, work, "ddp", [*SMOKE_TASKS["inpainting"], "trainer=ddp"], 3),
            "smoke_bf16_mixed": lambda: smoke(device, work, "bf16_mixed",
                                              [*SMOKE_TASKS["stylegan2"], "+trainer.precision=bf16-mixed"], 3),
            "throughput_stylegan2": lambda: throughput_stylegan2(device, args.tiny, work),
            "throughput_mminvertfill": lambda: throughput_mminvertfill(device, args.tiny, work),
            "throughput_evaluation": lambda: throughput_evaluation(device, args.tiny, work),
        }
        for name, fn in stages.items():
            if args.only is None or name in args.only:
                report.stage(name, fn)
    failed = [n for n, r in report.data["stages"].items() if r["ok"] is False]
    print(f"{len(report.data['stages'])} stages, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}; "
          f"{args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
