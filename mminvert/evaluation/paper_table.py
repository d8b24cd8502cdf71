"""The paper's ablation tables from finished sweeps: `mminvert table SWEEP_DIR [--out DIR] [--published FILE]`.

A sweep of `python train.py -m paper/train=table5` (or `evaluate.py -m paper/evaluate=psp`) holds one folder per job;
a finished job has `row.json` (mminvert.evaluation.row_record) naming its table, row and seed, and the
results.json that `evaluate` wrote. `make_table` groups the jobs by row (several seeds: mean ± sample standard
deviation), orders the rows as the paper does (TABLES, below — the one place the order is defined), and writes
`table.md` and `table.json` with the model row's per-bucket metrics. A sweep with a row of the table missing, a
job that did not finish, or a row the table does not know is refused (SweepError naming them), never silently
reported as a partial table.

Published numbers: the paper's text is not available offline, so no published values ship here (`PUBLISHED`
is empty on purpose; we do not type numbers we cannot check). `--published FILE.yaml` prints the values a user
supplies beside ours, in this format (any subset of rows, buckets and metrics):

    table5:                       # table name (TABLES)
      full:                       # row id
        0.1-0.3: {fid: 1.0, p_ids: 0.1, u_ids: 0.2, lpips: 0.05, ssim: 0.9, psnr: 30.0, l1_hole: 0.02}
        0.4-0.6: {...}
"""
from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from ..data.guidance import GUIDANCE_GIVEN
from ..io.atomic import atomic_write_text
from .report import METRIC_LABELS, _bucket_label
from .row_record import read_row_record

__all__ = ["PaperRow", "PaperTable", "TABLES", "PUBLISHED", "TABLE_METRICS", "SweepError", "collect_sweep",
           "make_table", "load_published"]

TABLE_METRICS = ("fid", "p_ids", "u_ids", "lpips", "ssim", "psnr", "l1_hole", "gap")
FORMAT = "mminvert.paper_table"
LEGACY_GIVEN = "image, mask, and the labels and edges of the known region (evaluated before the standard protocol)"


@dataclass(frozen=True)
class PaperRow:
    id: str      # the `paper_row` of its jobs (conf/paper/row/<table>/<id>.yaml)
    label: str   # as the table prints it


@dataclass(frozen=True)
class PaperTable:
    name: str
    title: str
    rows: tuple[PaperRow, ...]

    @property
    def row_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rows)


# Rows in the paper's order. The sweeps that compute them: conf/paper/train/<name>.yaml (the rows of
# `hydra.sweeper.params["paper/row"]`, tested to agree with these) and conf/paper/evaluate/psp.yaml.
TABLES: dict[str, PaperTable] = {t.name: t for t in (
    PaperTable("table5", "Table 5: components of MMInvertFill", (
        PaperRow("full", "MMInvertFill (full)"), PaperRow("no_gma", "− GMA"), PaperRow("no_pm", "− PM"),
        PaperRow("no_sml", "− SML"), PaperRow("no_fw", "− F&W+"))),
    PaperTable("table6", "Table 6: auxiliary modalities and guidance", (
        PaperRow("none", "no modality"), PaperRow("edge", "edge"), PaperRow("seg", "seg"),
        PaperRow("both", "seg + edge (unbiased guidance)"), PaperRow("biased", "biased guidance"),
        PaperRow("gt", "ground-truth guidance"))),
    PaperTable("table7", "Table 7: fusion of the guidance", (
        PaperRow("mmt1_concat", "MMT-1 (concat)"), PaperRow("mmt2_adain", "MMT-2 (AdaIN)"),
        PaperRow("mmt3_spade", "MMT-3 (SPADE)"), PaperRow("ours", "ours (GMA, ADN)"))),
    PaperTable("table8", "Table 8: bottleneck", (
        PaperRow("acb", "ACB"), PaperRow("res", "RES"), PaperRow("aot", "AOT"))),
    PaperTable("psp", "pSp: compositing and blending", (
        PaperRow("psp_composite", "pSp"), PaperRow("psp_raw", "pSp w/o Comp."),
        PaperRow("psp_poisson", "pSp w/ Blending"))),
)}

# The paper's published values, {table: {row: {bucket: {metric: value}}}}: empty, see the module docstring.
PUBLISHED: dict[str, dict[str, dict[str, dict[str, float]]]] = {}


class SweepError(ValueError):
    """The sweep folder cannot make a complete table (missing, failed or unknown rows, mixed settings)."""


@dataclass
class _Job:
    folder: Path
    row: str | None
    table: str | None
    seed: Any = None
    payload: dict[str, Any] | None = None
    problem: str | None = None     # why the job counts as failed


@dataclass
class Sweep:
    """The finished jobs of one table: {row id: [(seed, model-row results {bucket: {metric: value}}, folder)]}."""

    table: PaperTable
    buckets: list[str]
    num_images: int | None
    jobs: dict[str, list[tuple[Any, dict[str, dict[str, float]], Path]]] = field(default_factory=dict)
    given: dict[str, str] = field(default_factory=dict)  # row id -> what its model row was given (results.json)


def _intended(folder: Path) -> tuple[str | None, str | None]:
    """(table, row) a job folder was started for, from its resolved config.yaml or Hydra's .hydra/config.yaml."""
    for name in ("config.yaml", ".hydra/config.yaml"):
        path = folder / name
        if path.is_file():
            try:
                cfg = OmegaConf.load(path)
                return (OmegaConf.select(cfg, "paper_table", default=None),
                        OmegaConf.select(cfg, "paper_row", default=None))
            except Exception:  # noqa: BLE001 - an unreadable config only loses the row's name in the message
                continue
    return None, None


def _is_job_folder(d: Path) -> bool:
    return d.is_dir() and not d.name.startswith(".") and any(
        (d / n).exists() for n in ("row.json", ".hydra", "config.yaml"))


def _read_job(folder: Path) -> _Job:
    record = read_row_record(folder)
    if record is None:
        table, row = _intended(folder)
        return _Job(folder, row, table, problem="no row.json: the job did not finish (or evaluate_after_fit was off)")
    job = _Job(folder, record.get("row"), record.get("table"), record.get("seed"))
    results = folder / str(record.get("results", ""))
    try:
        job.payload = json.loads(results.read_text())
    except (OSError, ValueError) as e:
        job.problem = f"row.json points to {results}, which cannot be read ({type(e).__name__})"
    return job


def _model_name(payload: dict[str, Any]) -> str | None:
    results = payload.get("results", {})
    return payload.get("model_method") or ("mminvert" if "mminvert" in results else next(iter(results), None))


def _model_results(payload: dict[str, Any]) -> dict[str, dict[str, float]]:
    return payload.get("results", {}).get(_model_name(payload), {})


def _model_given(payload: dict[str, Any]) -> str:
    """What the model row was given; results.json written before `given` existed used the labels and edges of
    the known region."""
    return payload.get("given", {}).get(_model_name(payload)) or LEGACY_GIVEN


def collect_sweep(sweep_dir: str | os.PathLike) -> Sweep:
    """Read every job folder of `sweep_dir`; SweepError unless the jobs make exactly one complete table."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise SweepError(f"{root}: no such sweep folder")
    jobs = [_read_job(d) for d in sorted(root.iterdir(), key=lambda p: p.name) if _is_job_folder(d)]
    if not jobs:
        raise SweepError(f"{root}: no job folders (sub-folders with row.json, .hydra/ or config.yaml)")
    tables = sorted({j.table for j in jobs if j.table})
    if len(tables) != 1:
        raise SweepError(f"{root}: the jobs name {'tables ' + ', '.join(tables) if tables else 'no table'} "
                         f"(paper_table); a sweep folder makes one table")
    if tables[0] not in TABLES:
        raise SweepError(f"{root}: unknown table {tables[0]!r}; known: {', '.join(TABLES)}")
    table = TABLES[tables[0]]
    problems = []
    unknown = sorted({f"{j.row} ({j.folder.name})" for j in jobs if j.row is not None and j.row not in table.row_ids})
    if unknown:
        problems.append(f"unknown rows (not rows of {table.name}: {', '.join(table.row_ids)}): {', '.join(unknown)}")
    failed = [j for j in jobs if j.problem and (j.row is None or j.row in table.row_ids)]
    if failed:
        problems.append("failed rows: " + "; ".join(f"{j.row or '(row unknown)'} ({j.folder.name}: {j.problem})"
                                                    for j in failed))
    present = {j.row for j in jobs}
    missing = [r for r in table.row_ids if r not in present]
    if missing:
        problems.append(f"missing rows (expected by {table.name}, no job in the folder): {', '.join(missing)}")
    done = [j for j in jobs if not j.problem and j.row in table.row_ids]
    seen: dict[tuple[str, str], str] = {}
    for j in done:
        key = (str(j.row), str(j.seed))
        if key in seen:
            problems.append(f"row {j.row} seed {j.seed} appears twice ({seen[key]}, {j.folder.name})")
        seen[key] = j.folder.name
    settings = {(tuple(j.payload["buckets"]), j.payload.get("num_images")) for j in done}  # type: ignore[index]
    if len(settings) > 1:
        problems.append("jobs were evaluated on different buckets / numbers of images: "
                        + "; ".join(f"{list(b)} x {n}" for b, n in sorted(settings, key=str)))
    if problems:
        raise SweepError(f"{root} does not make {table.name}:\n  " + "\n  ".join(problems))
    buckets, num_images = next(iter(settings))
    sweep = Sweep(table, list(buckets), num_images)
    for j in sorted(done, key=lambda j: str(j.seed)):
        sweep.jobs.setdefault(str(j.row), []).append((j.seed, _model_results(j.payload), j.folder))  # type: ignore[arg-type]
        sweep.given.setdefault(str(j.row), _model_given(j.payload))  # type: ignore[arg-type]
    return sweep


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _summary(sweep: Sweep) -> tuple[list[str], dict[str, dict[str, dict[str, dict[str, float]]]]]:
    """(metrics present, {row: {bucket: {metric: {mean, std, n}}}})."""
    values: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    present = set()
    for row, runs in sweep.jobs.items():
        for b in sweep.buckets:
            for m in TABLE_METRICS:
                xs = [float(res.get(b, {}).get(m)) for _, res, _ in runs if _finite(res.get(b, {}).get(m))]
                if not xs:
                    continue
                present.add(m)
                std = statistics.stdev(xs) if len(xs) > 1 else 0.0
                values.setdefault(row, {}).setdefault(b, {})[m] = {"mean": statistics.fmean(xs), "std": std,
                                                                   "n": len(xs)}
    return [m for m in TABLE_METRICS if m in present], values


def load_published(path: str | os.PathLike, table: PaperTable) -> dict[str, dict[str, dict[str, float]]]:
    """The user's published values of `table` from a YAML file (format in the module docstring); SweepError
    naming what is wrong (unknown table, row or metric, a value that is not a number)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SweepError(f"--published {path}: cannot read it ({e})") from None
    if not isinstance(data, dict):
        raise SweepError(f"--published {path}: expected a mapping {{table: {{row: {{bucket: {{metric: value}}}}}}}}")
    if table.name not in data:
        raise SweepError(f"--published {path}: no values for {table.name} (it has: {', '.join(map(str, data)) or 'none'})")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row, buckets in (data[table.name] or {}).items():
        if row not in table.row_ids:
            raise SweepError(f"--published {path}: {table.name} has no row {row!r} (rows: {', '.join(table.row_ids)})")
        for bucket, metrics in (buckets or {}).items():
            for m, v in (metrics or {}).items():
                if m not in TABLE_METRICS:
                    raise SweepError(f"--published {path}: unknown metric {m!r} ({table.name}/{row}/{bucket}); "
                                     f"known: {', '.join(TABLE_METRICS)}")
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise SweepError(f"--published {path}: {table.name}/{row}/{bucket}/{m} = {v!r} is not a number")
                out.setdefault(row, {}).setdefault(str(bucket), {})[m] = float(v)
    return out


def _cell(stat: dict[str, float] | None) -> str:
    if stat is None:
        return "n/a"
    if stat["n"] > 1:
        return f"{stat['mean']:.4g} ± {stat['std']:.2g}"
    return f"{stat['mean']:.4g}"


def _markdown(sweep: Sweep, metrics: list[str], values: dict, published: dict, seeds: dict[str, list]) -> str:
    """One section per hole-ratio bucket; rows in the paper's order, a "(published)" line under a row when given."""
    t = sweep.table
    head = ["row", "seeds"] + [f"{METRIC_LABELS[m][0]}{'↑' if METRIC_LABELS[m][1] else '↓'}" for m in metrics]
    lines = [f"# {t.title}", "",
             f"{sweep.num_images} test images per bucket; the model row of each job (`gap`: mean |ŷ − x| over known "
             "pixels before compositing). Several seeds: mean ± sample standard deviation.", ""]
    if not published:
        lines += ["Published values: none shown (none ship with mminvert; pass `--published FILE.yaml`).", ""]
    standard = GUIDANCE_GIVEN["none"]
    if all(g == standard for g in sweep.given.values()):
        lines += [f"Model input in every row: {standard}.", ""]
    else:
        lines += ["Model input per row (rows marked † were given more than image and mask):", ""]
        lines += [f"- {r.label}{'' if sweep.given.get(r.id) == standard else ' †'}: {sweep.given.get(r.id, 'n/a')}"
                  for r in t.rows] + [""]
    for b in sweep.buckets:
        lines += [f"## Hole ratio {_bucket_label(b)}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in t.rows:
            cells = [row.label, ",".join(map(str, seeds[row.id]))]
            cells += [_cell(values.get(row.id, {}).get(b, {}).get(m)) for m in metrics]
            lines.append("| " + " | ".join(cells) + " |")
            pub = published.get(row.id, {}).get(b)
            if pub:
                cells = [f"{row.label} (published)", ""] + [f"{pub[m]:.4g}" if m in pub else "" for m in metrics]
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def make_table(sweep_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
               published: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write `table.md` and `table.json` of the sweep into `out_dir` (default: the sweep folder). Returns both
    paths. SweepError (nothing written) when the sweep is incomplete or `published` is invalid; FileExistsError
    when `out_dir` holds a table.md or table.json that this command did not write."""
    sweep = collect_sweep(sweep_dir)
    pub = load_published(published, sweep.table) if published else dict(PUBLISHED.get(sweep.table.name, {}))
    metrics, values = _summary(sweep)
    seeds = {r: [s for s, _, _ in runs] for r, runs in sweep.jobs.items()}
    out = Path(out_dir) if out_dir else Path(sweep_dir)
    md_path, json_path = out / "table.md", out / "table.json"
    _check_own_files(md_path, json_path)
    doc = {"format": FORMAT, "table": sweep.table.name, "title": sweep.table.title, "sweep": str(Path(sweep_dir)),
           "buckets": sweep.buckets, "num_images": sweep.num_images, "metrics": metrics,
           "published_source": str(published) if published else None,
           "rows": [{"id": r.id, "label": r.label, "seeds": seeds[r.id], "given": sweep.given.get(r.id),
                     "jobs": [str(f) for _, _, f in sweep.jobs[r.id]], "values": values.get(r.id, {}),
                     **({"published": pub[r.id]} if r.id in pub else {})} for r in sweep.table.rows]}
    # each file atomically; table.json (which marks the pair as this command's) first, so that an interrupted
    # write leaves files the next run may replace
    atomic_write_text(json_path, json.dumps(doc, indent=1))
    atomic_write_text(md_path, _markdown(sweep, metrics, values, pub, seeds))
    return md_path, json_path


def _check_own_files(md_path: Path, json_path: Path) -> None:
    """Only a table this command wrote (table.json with its format tag) may be replaced."""
    if not (md_path.exists() or json_path.exists()):
        return
    try:
        ours = json.loads(json_path.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise FileExistsError(f"{md_path.parent} already holds a table.md / table.json that `mminvert table` did "
                              "not write; pass --out to write the table elsewhere")
