"""One writer per run folder: `<run>/run.lock` names the training that owns the folder.

A second `train.py` pointed at a folder in use (the same `hydra.run.dir`, a requeued job started while the
old one still runs) would otherwise auto-resume from the first run's checkpoints and both would write
`last.ckpt`. The lock is a small JSON file (host, pid, start time, command) created atomically (written to a
temporary file, then hard-linked into place, which fails if a lock exists). A lock is **stale** when it was
written on this host by a process that is no longer alive (or whose pid now belongs to a younger process);
a stale lock is taken over with a warning. A lock held from another host cannot be checked from here: it is
refused, and the message says how to remove it. Only the launching process (global rank 0) locks; DDP ranks
started by it, which share its folder, do not.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..io.run_folder import LOCK_NAME

__all__ = ["RunFolderLock", "RunFolderLockedError", "LOCK_NAME", "is_launching_process"]

log = logging.getLogger(__name__)
# Rank variables of torchrun, Lightning's DDP launcher (set for its child ranks), SLURM and jsrun.
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


class RunFolderLockedError(RuntimeError):
    """Another training writes into this run folder."""


def is_launching_process() -> bool:
    """True in the process that starts a run (global rank 0), false in the other ranks of a distributed job."""
    return all(os.environ.get(k, "0") in ("", "0") for k in _RANK_VARIABLES)


def _process_start_time(pid: int) -> float | None:
    """Start time (Unix seconds) of process `pid` from /proc, or None where /proc is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat: start time in clock ticks after boot
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive(pid: int, since: float) -> bool:
    """Is the process that wrote a lock at time `since` still running? A pid reused by a process started
    after the lock was written does not count."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    started = _process_start_time(pid)
    return started is None or started <= since + 2.0  # 2 s: /proc start times are rounded to clock ticks


class RunFolderLock:
    """Hold `<folder>/run.lock` while a training writes into `folder`; use as a context manager.

    Raises RunFolderLockedError naming the holder when a live process (or one on another host) holds it.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.record: dict[str, Any] = {}
        self._held = False

    def holder(self) -> dict[str, Any] | None:
        """The record of the current lock file, or None without one. An unreadable file reads as {}."""
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.record = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(),
                       "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                       "command": " ".join(sys.argv)}
        for _ in range(3):  # a stale lock removed here may be taken by another process first: look again
            if self._create():
                self._held = True
                return
            holder = self.holder()
            if holder is None:
                continue
            if not self._is_stale(holder):
                raise RunFolderLockedError(self._refusal(holder))
            log.warning("%s: taking over a stale lock of %s (that process is no longer running)",
                        self.path, _describe(holder))
            self._remove_if_unchanged(holder)
        raise RunFolderLockedError(f"{self.path}: could not take the lock (other processes keep taking it)")

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if self._held and self.holder() == self.record:
            self.path.unlink(missing_ok=True)
        self._held = False

    def __enter__(self) -> RunFolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _create(self) -> bool:
        tmp = self.path.with_name(f".{LOCK_NAME}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.record, indent=1) + "\n")
            os.link(tmp, self.path)  # atomic, and fails if a lock exists: readers never see half a record
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _is_stale(self, holder: dict[str, Any]) -> bool:
        if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
            return False  # another host (or an unreadable record): cannot tell, so it is not ours to take
        return not _alive(holder["pid"], float(holder.get("started", 0.0)))

    def _remove_if_unchanged(self, stale: dict[str, Any]) -> None:
        """Remove the lock only if it still holds the stale record (not one a competitor just wrote)."""
        aside = self.path.with_name(f".{LOCK_NAME}.stale.{os.getpid()}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        try:
            moved = json.loads(aside.read_text())
        except (OSError, ValueError):
            moved = {}
        if moved != stale:  # a competitor's fresh lock: put it back unless yet another one appeared
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def _refusal(self, holder: dict[str, Any]) -> str:
        if not holder:
            return (f"{self.path} exists but cannot be read: another training may be writing into "
                    f"{self.path.parent}. If none is, delete {self.path} and start again.")
        same_host = holder.get("host") == socket.gethostname()
        check = ("it is still running" if same_host else
                 "it runs on another host, so this process cannot check whether it is still alive")
        return (f"run folder {self.path.parent} is in use by {_describe(holder)}; {check}. Two trainings in one "
                f"folder would overwrite each other's checkpoints. Train into another folder (hydra.run.dir=...), "
                f"or wait for it to end. If that process is gone, delete {self.path}.")


def _describe(holder: dict[str, Any]) -> str:
    return (f"pid {holder.get('pid')} on host {holder.get('host')} (started {holder.get('started_utc')} UTC"
            f"{': ' + holder['command'] if holder.get('command') else ''})")
