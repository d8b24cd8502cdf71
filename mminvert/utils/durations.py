"""One way to write a duration, for training progress, run estimates and evaluation progress alike."""
from __future__ import annotations

import math

__all__ = ["format_duration"]


def format_duration(seconds: float) -> str:
    """3725 -> '1:02:05', 65 -> '1:05', 0.4 -> '0:00'; '?' for an unknown (nan / inf) duration."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(max(seconds, 0.0)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
