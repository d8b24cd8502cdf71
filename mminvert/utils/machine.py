"""What the CPU is and how fast it multiplies matrices: for run-time estimates and benchmark headers."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch

__all__ = ["cpu_model", "gemm_gflops", "process_age_s"]


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC 7B13", "Intel(R) Xeon(R) Platinum 8481C", ...), from /proc/cpuinfo
    on Linux, else `platform.processor()`; "unknown CPU" when neither says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


@torch.no_grad()
def gemm_gflops(n: int = 512, budget_s: float = 0.3, device: str | torch.device = "cpu") -> float:
    """Measured fp32 matrix-product rate in GFLOP/s (2·n³ FLOPs per n×n product), with torch's current
    thread count: one warm-up product, then as many as fit in `budget_s` seconds; the best single
    product counts (robust to other processes taking the CPU for a moment). Takes about `budget_s`; leaves
torch's global RNG as it was."""
    gen = torch.Generator().manual_seed(0)  # the global RNG stays untouched (exact resume, reproducible runs)
    a = torch.randn(n, n, generator=gen).to(device)
    b = torch.randn(n, n, generator=gen).to(device)
    c = torch.empty(n, n, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    torch.mm(a, b, out=c)
    sync()
    best, start = float("inf"), time.perf_counter()
    while True:
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        sync()
        t1 = time.perf_counter()
        best = min(best, t1 - t0)
        if t1 - start > budget_s:
            break
    return 2.0 * n**3 / max(best, 1e-9) / 1e9


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), or None where that cannot be read."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None
