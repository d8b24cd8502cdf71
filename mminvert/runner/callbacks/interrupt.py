"""Ctrl-C during training: finish the step, save, then stop; and never lose a Ctrl-C inside a file write.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread is. Raised in the middle of a training
step it leaves a half-updated state that cannot be saved for an exact resume; raised inside a checkpoint
write it can land in a file object's finaliser, where Python prints and drops it (the user must press Ctrl-C
again). `StopRequest` replaces the handler while training runs: the first Ctrl-C only asks to stop (the step
ends, `last.ckpt` is written, then KeyboardInterrupt is raised), a second one interrupts at once.
`defer_sigint()` holds SIGINT back while a file is written and delivers it afterwards.

SLURM pre-emption and time limits: `sbatch --signal=USR1@<s>` (Lightning's SLURM auto-requeue) or submitit's
`signal_delay_s` (USR2) warn a job before it is killed. The default handlers then save or requeue in the middle of a
step, on one rank, while the other ranks wait in a collective. `PreemptionRequest` replaces them while training
runs: the signal only asks to stop; the checkpoint callback stops every rank at the same step boundary, writes
`last.ckpt`, then `requeue()` asks SLURM to run the job again (through submitit's own handler when submitit
launched it, else `scontrol requeue`), and the requeued job continues from `last.ckpt`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["StopRequest", "PreemptionRequest", "PREEMPTION_SIGNALS", "defer_sigint"]

# The pre-timeout signals of SLURM jobs: Lightning's SLURMEnvironment (USR1) and submitit (USR2).
PREEMPTION_SIGNALS = ("SIGUSR1", "SIGUSR2")

log = logging.getLogger(__name__)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _deliver(handler: Any, signum: int) -> None:
    """Run what `handler` (a value of signal.getsignal) would have done with the signal."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)  # the handler is restored by now: the default action happens


@contextlib.contextmanager
def defer_sigint() -> Iterator[None]:
    """Hold SIGINT back inside the block (e.g. an atomic file write) and deliver it when the block ends."""
    if not _in_main_thread():  # only the main thread receives signals and may change handlers
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            _deliver(previous, signal.SIGINT)


class StopRequest:
    """While installed, the first SIGINT sets `requested` (the caller stops at a safe point); a second
    SIGINT raises KeyboardInterrupt at once. Installed only in the main thread and only over Python's
    default SIGINT handler (a handler the user set stays in charge)."""

    def __init__(self, first_message: str = "Ctrl-C: stopping after this training step and saving a "
                                            "checkpoint; press Ctrl-C again to stop at once without saving") -> None:
        self.first_message = first_message
        self.requested = False
        self._previous: Callable[..., Any] | int | None = None
        self._installed = False

    def install(self) -> None:
        if self._installed or not _in_main_thread():
            return
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return
        self.requested = False
        self._previous = signal.signal(signal.SIGINT, self._handle)
        self._installed = True

    def uninstall(self) -> None:
        if self._installed and _in_main_thread():
            signal.signal(signal.SIGINT, self._previous)
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning(self.first_message)


class PreemptionRequest:
    """While installed (main thread only), SIGUSR1 / SIGUSR2 set `signum` instead of running their handlers; the
    handlers that were there (submitit's, Lightning's) are kept for `requeue`."""

    def __init__(self, signals: tuple[str, ...] = PREEMPTION_SIGNALS) -> None:
        self.signals = tuple(getattr(signal, name) for name in signals if hasattr(signal, name))
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def install(self) -> None:
        if self._previous or not _in_main_thread():
            return
        self.signum = None
        self._previous = {s: signal.signal(s, self._handle) for s in self.signals}

    def uninstall(self) -> None:
        if _in_main_thread():
            for s, handler in self._previous.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            log.warning("%s: the job is about to be stopped (SLURM time limit or pre-emption); saving last.ckpt at "
                        "the end of this step, then stopping", signal.Signals(signum).name)
        self.signum = signum

    def requeue(self) -> None:
        """Ask SLURM to run this job again (call on global rank 0, after the checkpoint is written): through the
        handler submitit installed for the signal (it counts time-outs and re-submits the pickled job), else with
        `scontrol requeue <job>` inside a SLURM job; outside SLURM nothing is requeued."""
        previous = self._previous.get(self.signum) if self.signum else None
        if callable(previous) and getattr(previous, "__module__", "").startswith("submitit"):
            try:
                previous(self.signum, None)
            except SystemExit:  # submitit exits after requeueing; the run stops through Lightning instead
                pass
            return
        job = os.environ.get("SLURM_JOB_ID")
        if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
            job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
        if not job or not re.fullmatch(r"[0-9_]+", job):
            log.info("%s received outside a SLURM job: not requeued", self.name)
            return
        try:
            result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            log.warning("could not requeue SLURM job %s: %s; resubmit it to continue from last.ckpt", job, e)
            return
        if result.returncode == 0:
            log.warning("requeued SLURM job %s: it continues from last.ckpt", job)
        else:
            log.warning("scontrol requeue %s failed (%s); resubmit the job to continue from last.ckpt", job,
                        result.stderr.strip() or result.returncode)
