"""`row.json`: the completion marker of one job of a paper-table sweep, naming the row it computed.

Written last, atomically (temporary file + rename), by the one process that evaluated the job (global rank 0):
a job folder without it did not finish. `mminvert table` reads it to group results by table row and seed.

    {"table": "table5", "row": "no_sml", "seed": 0, "results": "evaluation/results.json", "finished_utc": ...}

`results` is relative to the job folder.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_write_text

__all__ = ["ROW_RECORD", "write_row_record", "read_row_record"]

ROW_RECORD = "row.json"


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
