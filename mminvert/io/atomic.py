"""Atomic file writes: the data goes to a temporary file beside the target, which is renamed into place.

Readers see the old file or the new one, never half of one. On **any** failure (a full disk, a kill signal
turned into an exception, an encoder error) the temporary file is removed — a partial file would keep a full
disk full — and an `OSError` names the target: `[Errno 28] No space left on device: 'out/a.png'`.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_torch_save", "remove_on_failure"]


@contextlib.contextmanager
def remove_on_failure(*paths: str | os.PathLike, target: str | os.PathLike | None = None) -> Iterator[None]:
    """Delete `paths` (temporary files) if the block raises anything; an `OSError` without a file name is
    re-raised naming `target`."""
    try:
        yield
    except BaseException as e:
        for p in paths:
            with contextlib.suppress(OSError):
                Path(p).unlink(missing_ok=True)
        if target is not None and isinstance(e, OSError) and e.errno is not None and not e.filename:
            raise OSError(e.errno, e.strerror or str(e), str(target)) from e  # OSError(errno) picks the subclass
        raise


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """A unique temporary path beside `target` (`.<name>.<random>.tmp`) for a writer that takes a path; renamed
    onto `target` when the block ends normally, deleted if it raises. The parent folder is created."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    with remove_on_failure(tmp, target=target):
        os.fchmod(fd, mode)  # mkstemp's 0600 would hide shared files from other users
        os.close(fd)
        yield tmp
        os.replace(tmp, target)


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `target` atomically; returns `target` as a Path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `target` atomically; returns `target` as a Path."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_torch_save(obj: Any, target: str | os.PathLike) -> Path:
    """`torch.save(obj)` to `target` atomically; returns `target` as a Path."""
    import torch

    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
    return Path(target)
