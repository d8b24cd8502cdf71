"""Numeric precision of training runs: fp16 is refused, bf16 is allowed, and the GPU math policy is explicit.

fp16 (`trainer.precision=16-mixed`) needs a loss scaler around every backward pass and an unscale before gradient
clipping; the tasks optimise manually, with several backward passes per step, R1's double backward and lazy
regularisers, and go through no scaler. Rather than train with silently scaled or overflowing gradients, every
task refuses fp16 at the start of fit. bf16 has fp32's exponent range and needs no scaler: `bf16-mixed` (or the
inpainting task's own bf16 autocast) is the reduced-precision mode; numerically sensitive sums (demodulation,
R1, path lengths) are computed in fp32 inside it.

`set_tf32` states what NVIDIA GPUs (Ampere and newer) may do for speed: TF32 matrix products and convolutions
(10-bit mantissa, about 3 decimal digits). On for training (`tf32: true` in conf/config.yaml); FID's Inception
features are computed with TF32 off (`fp32_matmul`). cuDNN autotuning is the trainer's `benchmark` flag (on in the
GPU trainer presets).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    import pytorch_lightning as pl

__all__ = ["refuse_fp16", "set_tf32", "fp32_matmul", "autocast_off"]


def refuse_fp16(trainer: pl.Trainer, task: str) -> None:
    """ValueError when `trainer` trains in fp16 (16-mixed / 16-true): the tasks have no loss scaling."""
    precision = str(trainer.precision)
    if "16" in precision and "bf16" not in precision:
        raise ValueError(f"trainer.precision={precision} is not supported for {task} training: the task optimises "
                         "manually (several backward passes per step, gradient clipping, double backward) without a "
                         "loss scaler, so fp16 gradients would be scaled wrongly or overflow. Use "
                         "trainer.precision=bf16-mixed (same speed on A100/H100, no scaler needed) or 32.")


def set_tf32(tf32: bool) -> None:
    """Allow (True) or forbid TF32 in CUDA matrix products and convolutions of this process (CPU: no effect)."""
    torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
    torch.backends.cudnn.allow_tf32 = bool(tf32)


@contextlib.contextmanager
def fp32_matmul() -> Iterator[None]:
    """Inside the block, CUDA matrix products and convolutions run in full fp32 (TF32 off); the previous setting
    returns afterwards. No effect on CPU computations."""
    matmul, conv = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, conv


def autocast_off(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Inside the block, no autocast on `device`'s type: the code runs in the dtypes of its inputs (fp32 for the
    gradient penalties' double backward and for demodulation's sum of squares under bf16-mixed)."""
    kind = torch.device(device).type
    return torch.autocast(kind, enabled=False) if kind in ("cpu", "cuda") else contextlib.nullcontext()
