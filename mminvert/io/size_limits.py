"""Size limits checked before a checkpoint is loaded, so that a small file cannot make the loader allocate
gigabytes (a "zip bomb": a few MB of deflated zeros that expand to 1 GiB).

- A torch zip archive's records declare their sizes in the archive's directory; they are read first. The
  file is refused when the records add up to more than the limit, or expand implausibly: more than
  `MAX_EXPANSION` times the file's size plus `EXPANSION_SLACK_BYTES` (torch writes its records uncompressed,
  so a real checkpoint expands by a factor of about 1).
- Any other file (a pickle) is refused when the file itself is larger than the limit.

The limit is `MMINVERT_MAX_CHECKPOINT_BYTES` (bytes, e.g. `32e9`) when set, else `DEFAULT_MAX_CHECKPOINT_BYTES`
(16 GiB); `read_checkpoint(..., max_bytes=...)` overrides both.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .errors import CheckpointError

__all__ = ["DEFAULT_MAX_CHECKPOINT_BYTES", "MAX_EXPANSION", "EXPANSION_SLACK_BYTES", "max_checkpoint_bytes",
           "check_checkpoint_size"]

DEFAULT_MAX_CHECKPOINT_BYTES = 16 << 30
MAX_EXPANSION = 20
EXPANSION_SLACK_BYTES = 16 << 20
ENV_VAR = "MMINVERT_MAX_CHECKPOINT_BYTES"


def max_checkpoint_bytes(max_bytes: int | None = None) -> int:
    """The limit in force: `max_bytes`, else the environment variable, else the default."""
    if max_bytes is not None:
        return int(max_bytes)
    value = os.environ.get(ENV_VAR)
    if not value:
        return DEFAULT_MAX_CHECKPOINT_BYTES
    try:
        return int(float(value))
    except ValueError:
        raise ValueError(f"{ENV_VAR} must be a number of bytes, got {value!r}") from None


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def check_checkpoint_size(path: str | Path, max_bytes: int | None = None) -> None:
    """CheckpointError naming `path` if loading it would need more memory than allowed (see the module)."""
    p = Path(path)
    limit = max_checkpoint_bytes(max_bytes)
    size = p.stat().st_size
    hint = f"(the limit is {_gib(limit)}: raise it with {ENV_VAR}=<bytes> if the file is genuine)"
    if not zipfile.is_zipfile(p):
        if size > limit:
            raise CheckpointError(p, f"the file is {_gib(size)}, more than a checkpoint may be {hint}")
        return
    try:
        with zipfile.ZipFile(p) as z:
            declared = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(p, f"truncated or corrupt torch zip archive ({e})") from None
    if declared > limit:
        raise CheckpointError(p, f"its records expand to {_gib(declared)}, more than a checkpoint may be {hint}; "
                                 "nothing was loaded")
    if declared > MAX_EXPANSION * size + EXPANSION_SLACK_BYTES:
        raise CheckpointError(p, f"its records expand to {_gib(declared)} from a {_gib(size)} file ({declared / size:.0f}"
                                 f"x): torch writes checkpoints uncompressed, so this looks like a decompression bomb; "
                                 "nothing was loaded")
