"""Progress of a long loop: a bar redrawn in place on a terminal, periodic log lines otherwise (files, CI,
SLURM logs), both with count/total, rate and ETA, and the stage currently running."""
from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from ..utils.durations import format_duration

__all__ = ["Progress"]

log = logging.getLogger(__name__)


class Progress:
    """`total` items of a loop labelled `label`. `stage(name)` times a step of the current item (shown as
    the running stage; the seconds per stage are in `summary()`), `update(n)` counts finished items.

    On a TTY `stream` a one-line bar is redrawn; otherwise `logger` gets a line every `interval` seconds
    and one for the last item.
    """

    def __init__(self, label: str, total: int, unit: str = "images", interval: float = 30.0,
                 stream: TextIO | None = None, tty: bool | None = None, logger: logging.Logger = log,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit, self.interval = label, int(total), unit, float(interval)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())
        self.logger, self.clock = logger, clock
        self.count, self.current = 0, ""
        self.seconds: dict[str, float] = defaultdict(float)
        self.start = self.last_line = clock()
        if self.tty:
            self._draw()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.current = name
        if self.tty:
            self._draw()
        t0 = self.clock()
        try:
            yield
        finally:
            self.seconds[name] += self.clock() - t0

    def status(self) -> str:
        """'96/200 images (48%), 3.2 images/s, ETA 32s' (rate and ETA once something has finished)."""
        elapsed = self.clock() - self.start
        pct = 100.0 * self.count / self.total if self.total else 100.0
        text = f"{self.count}/{self.total} {self.unit} ({pct:.0f}%)"
        if self.count and elapsed > 0:
            rate = self.count / elapsed
            rate_text = f"{rate:.3g} {self.unit}/s" if rate >= 1 else f"{1 / rate:.3g} s/{self.unit.rstrip('s')}"
            eta = format_duration((self.total - self.count) / rate)
            text += f", {rate_text}, elapsed {format_duration(elapsed)}, ETA {eta}"
        return text

    def update(self, n: int = 1) -> None:
        self.count += n
        now = self.clock()
        if self.tty:
            self._draw()
        elif self.count >= self.total or now - self.last_line >= self.interval:
            self.logger.info("%s: %s", self.label, self.status())
            self.last_line = now

    def summary(self) -> str:
        """'done in 1m05s (mminvert 12s, telea 3s, inception 48s)'."""
        parts = ", ".join(f"{k} {format_duration(v)}" for k, v in self.seconds.items())
        return f"done in {format_duration(self.clock() - self.start)}" + (f" ({parts})" if parts else "")

    def close(self) -> None:
        if self.tty:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        self.logger.info("%s: %s", self.label, self.summary())

    def _draw(self, width: int = 24) -> None:
        filled = round(width * self.count / self.total) if self.total else width
        bar = "█" * filled + "·" * (width - filled)
        stage = f" [{self.current}]" if self.current and self.count < self.total else ""
        self.stream.write(f"\r{self.label} |{bar}| {self.status()}{stage}\x1b[K")
        self.stream.flush()
