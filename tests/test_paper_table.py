"""`mminvert table SWEEP_DIR`: a fake sweep of results.json files in the real format -> table.md / table.json with
the paper's row order and hand-checkable numbers; missing, failed and unknown rows are refused with exit code 2."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from mminvert.cli import main as mminvert_cli
from mminvert.evaluation import report
from mminvert.evaluation.paper_table import TABLES, make_table
from mminvert.evaluation.report import write_results
from mminvert.evaluation.row_record import write_row_record

BUCKETS = ["0.1-0.3", "0.7-0.9"]
METRICS = ["fid", "p_ids", "u_ids", "ssim", "psnr", "l1_hole"]


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch):
    monkeypatch.setattr(report, "_plots", lambda *a, **k: [])  # results.json is what the table reads


def _value(row_index: int, seed: int, bucket: int, metric: str) -> float:
    """A number the test can recompute: differs by row, seed, bucket and metric."""
    return 10.0 * (METRICS + ["gap"]).index(metric) + row_index + 0.5 * seed + 100.0 * bucket


def _job(sweep: Path, num: int, table: str, row: str, seed: int, row_index: int, finished: bool = True) -> Path:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"paper_table": table, "paper_row": row, "seed": seed}))
    if not finished:
        return job
    res = {b: {m: _value(row_index, seed, i, m) for m in METRICS + ["gap"]} for i, b in enumerate(BUCKETS)}
    payload = {"checkpoint": str(job), "data": "scenes", "num_images": 8, "buckets": BUCKETS,
               "metrics": METRICS + ["gap"], "model_method": "mminvert", "output": "composite", "seed": seed,
               "skipped": {"lpips": "no weights"}, "metrics_info": {},
               "results": {"mminvert": res, "telea": {b: {"psnr": 1.0} for b in BUCKETS}}}
    write_results(job / "evaluation", payload, {})
    write_row_record(job, table, row, seed, "evaluation/results.json")
    return job


def _sweep(tmp_path: Path, table: str = "table5", seeds=(0, 1)) -> Path:
    sweep = tmp_path / "multirun"
    num = 0
    for seed in seeds:
        for i, row in enumerate(TABLES[table].row_ids):
            _job(sweep, num, table, row, seed, i)
            num += 1
    (sweep / ".submitit").mkdir()  # launcher folders are not jobs
    return sweep


def test_table_numbers_order_and_seed_spread(tmp_path, capsys):
    sweep = _sweep(tmp_path)
    assert mminvert_cli(["table", str(sweep), "--out", str(tmp_path / "out")]) == 0
    assert "table.md" in capsys.readouterr().out
    doc = json.loads((tmp_path / "out" / "table.json").read_text())
    assert doc["table"] == "table5" and doc["buckets"] == BUCKETS and doc["num_images"] == 8
    assert doc["metrics"] == ["fid", "p_ids", "u_ids", "ssim", "psnr", "l1_hole", "gap"]  # paper order, no lpips
    assert [r["id"] for r in doc["rows"]] == ["full", "no_gma", "no_pm", "no_sml", "no_fw"]
    for i, row in enumerate(doc["rows"]):
        assert row["seeds"] == [0, 1]
        for bi, b in enumerate(BUCKETS):
            for m in doc["metrics"]:
                stat = row["values"][b][m]
                assert stat["n"] == 2
                assert stat["mean"] == pytest.approx(_value(i, 0, bi, m) + 0.25)       # seeds add 0 and 0.5
                assert stat["std"] == pytest.approx(0.5 / math.sqrt(2))                 # sample std of {x, x + 0.5}
    md = (tmp_path / "out" / "table.md").read_text()
    labels = [r.label for r in TABLES["table5"].rows]
    positions = [md.index(f"| {label} |") for label in labels]
    assert positions == sorted(positions)
    # full, bucket 0.1-0.3: FID = 0 + 0 + 0.25 -> "0.25 ± 0.35"; gap (index 6) of no_fw (row 4), 0.7-0.9 = 164.25
    assert "| MMInvertFill (full) | 0,1 | 0.25 ± 0.35 |" in md
    fw_lines = [line for line in md.splitlines() if line.startswith("| − F&W+ |")]
    assert len(fw_lines) == 2 and fw_lines[1].endswith("| 164.2 ± 0.35 |")  # its gap at 70-90%
    assert md.index("## Hole ratio 10–30%") < md.index("## Hole ratio 70–90%")
    assert "| row | seeds | FID↓ | P-IDS↑ | U-IDS↑ | SSIM↑ | PSNR↑ | L1 hole↓ | gap↓ |" in md
    assert "none ship with mminvert" in md
    assert not list(sweep.glob("table.*"))  # --out honoured


def test_single_seed_prints_plain_numbers_and_writes_into_the_sweep(tmp_path):
    sweep = _sweep(tmp_path, "table8", seeds=(0,))
    md_path, json_path = make_table(sweep)
    assert md_path == sweep / "table.md"
    md = md_path.read_text()
    assert "| RES | 0 | 1 |" in md and "±" not in md.split("|---")[1]
    make_table(sweep)  # its own table is replaced on a re-run
    (sweep / "table.json").write_text("{}")  # ... but not a file someone else wrote
    assert mminvert_cli(["table", str(sweep)]) == 1


def _refusal(sweep: Path, capsys) -> str:
    assert mminvert_cli(["table", str(sweep)]) == 2
    assert not (sweep / "table.md").exists()
    return capsys.readouterr().err


def test_missing_row_is_refused(tmp_path, capsys):
    sweep = _sweep(tmp_path, seeds=(0,))
    import shutil

    shutil.rmtree(sweep / "3")  # no_sml
    err = _refusal(sweep, capsys)
    assert "missing rows" in err and "no_sml" in err and "no_gma" not in err


def test_failed_row_is_refused(tmp_path, capsys):
    sweep = _sweep(tmp_path, seeds=(0,))
    (sweep / "2" / "row.json").unlink()  # no_pm did not finish
    err = _refusal(sweep, capsys)
    assert "failed rows: no_pm (2: no row.json" in err
    (sweep / "2" / "row.json").write_text(json.dumps({"table": "table5", "row": "no_pm", "seed": 0,
                                                      "results": "evaluation/gone.json"}))
    assert "failed rows: no_pm (2: row.json points to" in _refusal(sweep, capsys)


def test_unknown_row_and_mixed_tables_are_refused(tmp_path, capsys):
    sweep = _sweep(tmp_path, seeds=(0,))
    _job(sweep, 9, "table5", "no_everything", 0, 9)
    err = _refusal(sweep, capsys)
    assert "unknown rows" in err and "no_everything (9)" in err
    _job(sweep, 10, "table6", "gt", 0, 1)
    assert "tables table5, table6" in _refusal(sweep, capsys)


def test_published_values_print_beside_ours_and_are_checked(tmp_path, capsys):
    sweep = _sweep(tmp_path, "table8", seeds=(0,))
    pub = tmp_path / "paper.yaml"
    pub.write_text(yaml.safe_dump({"table8": {"aot": {"0.1-0.3": {"fid": 12.5, "psnr": 27.25}}}}))
    assert mminvert_cli(["table", str(sweep), "--published", str(pub)]) == 0
    lines = (sweep / "table.md").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("| AOT |"))
    assert lines[i + 1].startswith("| AOT (published) |  | 12.5 |") and "27.25" in lines[i + 1]
    doc = json.loads((sweep / "table.json").read_text())
    assert doc["rows"][2]["published"] == {"0.1-0.3": {"fid": 12.5, "psnr": 27.25}}
    assert "published" not in doc["rows"][0] and doc["published_source"] == str(pub)
    pub.write_text(yaml.safe_dump({"table8": {"aot": {"0.1-0.3": {"fidd": 1.0}}}}))
    assert "unknown metric 'fidd'" in _refusal_keep(sweep, pub, capsys)
    pub.write_text(yaml.safe_dump({"table5": {}}))
    assert "no values for table8" in _refusal_keep(sweep, pub, capsys)


def _refusal_keep(sweep: Path, pub: Path, capsys) -> str:
    assert mminvert_cli(["table", str(sweep), "--published", str(pub)]) == 2
    return capsys.readouterr().err


def _full_disk_after_half(monkeypatch):
    """Every Path.write_bytes writes half its data, then fails like a full disk."""
    import errno

    real = Path.write_bytes

    def write_half(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", write_half)


def test_evaluation_reports_and_tables_are_written_atomically(tmp_path, monkeypatch):
    """A write that fails half-way (full disk) keeps the previous results.json / table.md / table.json /
    test_images.txt whole, leaves no temporary file, and its error names the file."""
    from mminvert.data.first_items import FirstItems
    from mminvert.evaluation.run_data import write_scored_images

    sweep = _sweep(tmp_path, seeds=(0,))
    job = sweep / "0" / "evaluation"
    assert mminvert_cli(["table", str(sweep)]) == 0
    scenes = type("Keys", (), {"__len__": lambda self: 3, "key": lambda self, i: f"scene/{i}"})()
    write_scored_images(job, FirstItems(scenes, 2))
    before = {p: p.read_bytes() for p in [*job.iterdir(), sweep / "table.md", sweep / "table.json"]}
    assert (job / "test_images.txt").read_text() == "scene/0\nscene/1\n"
    payload = json.loads((job / "results.json").read_text())
    payload["results"]["telea"] = {b: {"psnr": 2.0} for b in BUCKETS}
    _full_disk_after_half(monkeypatch)
    with pytest.raises(OSError, match="results.json"):
        write_results(job, payload, {})
    with pytest.raises(OSError, match="test_images.txt"):
        write_scored_images(job, FirstItems(scenes, 3))
    with pytest.raises(OSError, match=r"table\.json"):  # written first: it marks the pair as mminvert's
        make_table(sweep)
    assert {p: p.read_bytes() for p in before} == before
    assert not [p for p in sweep.rglob("*") if p.name.endswith(".tmp")]
