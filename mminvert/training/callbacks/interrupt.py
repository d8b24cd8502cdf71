"""Ctrl-C during training: finish the step, save, then stop; and never lose a Ctrl-C inside a file write.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread is. Raised in the middle of a training
step it leaves a half-updated state that cannot be saved for an exact resume; raised inside a checkpoint
write it can land in a file object's finaliser, where Python prints and drops it (the user must press Ctrl-C
again). `StopRequest` replaces the handler while training runs: the first Ctrl-C only asks to stop (the step
ends, `last.ckpt` is written, then KeyboardInterrupt is raised), a second one interrupts at once.
`defer_sigint()` holds SIGINT back while a file is written and delivers it afterwards.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["StopRequest", "defer_sigint"]

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
