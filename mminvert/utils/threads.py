"""How many CPU threads each training process uses (`threads` in conf/config.yaml).

torch's default, one thread per core, stalls small convolutions by orders of magnitude when other processes
compete for the cores (a StyleGAN2 step went from 0.23 s to 1.2-26 s next to other work; one thread: 0.34 s).
`auto` therefore gives each of this job's processes an equal share of the cores that are not already busy:

    threads = max(1, (cores - busy) // processes)

with `busy` the 1-minute load average of the machine (other work) and `processes` the job's CPU processes on this
machine (DDP ranks on CPU). On an idle machine a single process keeps every core; two ranks on two cores, or one
process next to another job on two cores, get one thread each. An explicit number, or OMP_NUM_THREADS set in the
environment, is used as given. The choice is logged in one line.
"""
from __future__ import annotations

import logging
import os

import torch

__all__ = ["choose_threads", "set_threads"]

log = logging.getLogger(__name__)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_threads(setting: int | str = "auto", processes: int = 1) -> tuple[int, str]:
    """(threads per process, the reason in words) for `setting` = "auto" or a positive number."""
    if setting != "auto":
        n = int(setting)
        if n < 1:
            raise ValueError(f"threads must be auto or a number >= 1, got {setting!r}")
        return n, f"threads={n}"
    if os.environ.get("OMP_NUM_THREADS"):
        return max(1, int(os.environ["OMP_NUM_THREADS"])), f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    cores = _cores()
    busy = int(round(os.getloadavg()[0])) if hasattr(os, "getloadavg") else 0
    n = max(1, (cores - min(busy, cores)) // max(1, processes))
    return n, (f"auto: {cores} cores, load {busy} from other work, {processes} process(es) of this job; "
               "set threads=N or OMP_NUM_THREADS to choose")


def set_threads(setting: int | str = "auto", processes: int = 1) -> int:
    """Apply `choose_threads` to torch and log it. With several processes, also OMP_NUM_THREADS, which the DDP ranks
    inherit (and Lightning then keeps instead of its own cores // processes)."""
    n, why = choose_threads(setting, processes)
    torch.set_num_threads(n)
    if processes > 1:
        os.environ["OMP_NUM_THREADS"] = str(n)
    log.info("CPU threads per process: %d (%s)", n, why)
    return n
