"""`row.json`: the completion marker of one job of a paper-table sweep, naming the row it computed.

Written last, atomically (temporary file + rename), by the one process that evaluated the job (global rank 0), in
one place: `evaluate(cfg, row_job)` once its results are written. The job is `row_job(cfg, folder)`: a training run
with evaluate_after_fit (the run folder, its seed) or an `evaluate.py -m paper=...` job (its output folder). A job
folder without the record did not finish. `mminvert table` reads it to group results by table row and seed.

    {"table": "table5", "row": "no_sml", "seed": 0, "results": "evaluation/results.json", "finished_utc": ...}

`results` is relative to the job folder.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ..io.atomic import atomic_write_text

__all__ = ["ROW_RECORD", "RowJob", "row_job", "write_row_record", "read_row_record"]

ROW_RECORD = "row.json"


@dataclass(frozen=True)
class RowJob:
    """One job of a paper-table sweep: its folder (where row.json goes), the table and row it computes, its seed."""

    folder: Path
    table: str | None
    row: str
    seed: int | None

    def complete(self, results: str | os.PathLike) -> Path:
        """Mark the job complete: `<folder>/row.json` naming `results` (its results.json) relative to the folder."""
        rel = os.path.relpath(Path(results).resolve(), self.folder.resolve())
        return write_row_record(self.folder, self.table, self.row, self.seed, rel)


def row_job(cfg: DictConfig, folder: str | os.PathLike) -> RowJob | None:
    """The paper-table job that config `cfg` (`paper_table`, `paper_row`, `seed`) runs in `folder`; None when it
    names no `paper_row`."""
    if not cfg.get("paper_row"):
        return None
    return RowJob(Path(folder), cfg.get("paper_table"), str(cfg.paper_row), cfg.get("seed"))


def write_row_record(job_dir: str | os.PathLike, table: str | None, row: str, seed: int | None,
                     results: str | os.PathLike) -> Path:
    """Write `<job_dir>/row.json`; `results` is the job's results.json (absolute or relative to job_dir)."""
    job = Path(job_dir)
    rel = Path(results)
    if rel.is_absolute():
        rel = rel.relative_to(job.resolve()) if rel.is_relative_to(job.resolve()) else rel
    record = {"table": table, "row": row, "seed": seed, "results": str(rel),
              "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    job.mkdir(parents=True, exist_ok=True)
    atomic_write_text(job / ROW_RECORD, json.dumps(record, indent=1))
    return job / ROW_RECORD


def read_row_record(job_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The record of a finished job, or None when the job folder has none (the job did not finish)."""
    path = Path(job_dir) / ROW_RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text())
