"""Reading a checkpoint file of any kind safely: torch zip archives and torch's legacy format through
`torch.load(weights_only=True)` (no code in them runs), raw pickles (NVlabs `.pkl`) through the restricted unpickler of
safe_pickle.py; the size of every record is checked before anything is loaded (size_limits.py). Errors name the file.
Writing is `atomic.atomic_torch_save`."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..utils.assets import bundled_names
from .errors import CheckpointError
from .safe_pickle import PersistentStub, UnsafePickleError, safe_load_pickle
from .size_limits import check_checkpoint_size

__all__ = ["read_checkpoint", "resolve_file"]


def resolve_file(path: str | Path, bundled: dict[str, Path] | None = None) -> Path:
    """`path` as an existing file; a name of `bundled` ({name: shipped file}) when no such path exists.
    Default: the bundled generators (`read_checkpoint("scenes64")`)."""
    bundled = bundled_names("generator") if bundled is None else bundled
    p = Path(path)
    if not p.exists() and str(path) in bundled:
        return bundled[str(path)]
    if not p.exists():
        hint = f"; bundled names: {sorted(bundled)}" if bundled else ""
        raise CheckpointError(p, f"no such file{hint}")
    if p.is_dir():
        raise CheckpointError(p, "is a directory, expected a checkpoint file")
    return p


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", max_bytes: int | None = None) -> Any:
    """Read a checkpoint file safely: torch zip/legacy files with weights_only, pickles restricted; sizes checked
    first against `max_bytes` (default: io/size_limits.py)."""
    p = resolve_file(path)
    with open(p, "rb") as f:
        head = f.read(4)
    if p.stat().st_size == 0:
        raise CheckpointError(p, "file is empty")
    check_checkpoint_size(p, max_bytes)
    if head[:2] == b"PK":
        if not zipfile.is_zipfile(p):
            raise CheckpointError(p, "truncated or corrupt torch zip archive")
        return _torch_load(p, map_location)
    if head[:1] == b"\x80":  # a raw pickle: an NVlabs .pkl, or torch's legacy format
        try:
            with open(p, "rb") as f:
                obj = safe_load_pickle(f)
        except UnsafePickleError as e:
            raise CheckpointError(p, f"unsafe pickle refused: {e}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                RuntimeError) as e:
            # torch's legacy (non-zip) format is also a pickle stream: let torch read it safely.
            try:
                return _torch_load(p, map_location)
            except CheckpointError:
                raise CheckpointError(p, f"truncated or corrupt pickle ({type(e).__name__}: {e})") from None
        if isinstance(obj, int):  # legacy torch format starts with a magic number
            return _torch_load(p, map_location)
        return _to_device(obj, map_location)
    raise CheckpointError(p, "unknown format: neither a torch checkpoint nor a pickle")


def _torch_load(p: Path, map_location: Any) -> Any:
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "Weights only load failed" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(p, "refused: the file holds pickled code or objects other than tensors "
                                     f"(torch.load weights_only): {_first_reason(str(e))}") from None
        raise CheckpointError(p, f"cannot be read as a torch checkpoint ({type(e).__name__}: {msg})") from None


def _first_reason(msg: str) -> str:
    for line in msg.splitlines():
        if "Unsupported global" in line or "GLOBAL" in line:
            return line.strip()
    return msg.splitlines()[0] if msg else ""


def _to_device(obj: Any, map_location: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.to(map_location)
    if isinstance(obj, dict):
        return type(obj)((k, _to_device(v, map_location)) for k, v in obj.items()) if not isinstance(
            obj, PersistentStub) else obj
    if isinstance(obj, PersistentStub):
        obj.state = _to_device(obj.state, map_location)
    return obj


# ----------------------------------------------------------------------------------------- parsing
