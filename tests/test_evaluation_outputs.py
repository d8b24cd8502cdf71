"""The model row's evaluated image (output=composite | raw | poisson), the `gap` metric, and the pSp recipe as a
real evaluate.py sweep turned into a table."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from mminvert.cli import main as mminvert_cli
from mminvert.evaluation.methods import ModelMethod
from mminvert.metrics import known_gap
from mminvert.runner import train

CONF = Path(__file__).resolve().parents[1] / "conf"
REPO = CONF.parent


class _ConstantModel(torch.nn.Module):
    """Renders the same image ŷ = 0 everywhere (0.5 in [0, 1] units); composites like MMInvertFill."""

    def forward(self, batch):
        y = torch.zeros_like(batch["image"])
        m = batch["mask"]
        return {"image": y, "composite": batch["image"] * m + y * (1 - m), "seg": None}


def _batch() -> dict[str, torch.Tensor]:
    image = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    mask = torch.ones(2, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 0  # a 4x4 hole
    return {"image": image, "mask": mask}


def test_known_gap_by_hand():
    target = torch.ones(1, 3, 4, 4)            # 1.0 in [0, 1] units
    raw = torch.zeros(1, 3, 4, 4)              # 0.5
    raw[..., 0, :] = 1.0                       # the first row matches the target
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1                       # known: rows 0 and 1 -> errors 0 and 0.5
    assert known_gap(raw, target, mask).tolist() == [pytest.approx(0.25)]
    assert known_gap(raw, target, torch.zeros(1, 1, 4, 4)).tolist() == [0.0]  # nothing known


def test_outputs_differ_on_known_pixels_and_agree_in_the_hole():
    batch = _batch()
    known = batch["mask"].expand_as(batch["image"]).bool()
    outs = {o: ModelMethod(_ConstantModel(), output=o)(batch) for o in ("composite", "raw", "poisson")}
    comp, raw, poisson = (outs[o]["composite"] for o in ("composite", "raw", "poisson"))
    assert torch.equal(comp[known], batch["image"][known]) and torch.equal(poisson[known], batch["image"][known])
    assert not torch.allclose(raw[known], comp[known]) and torch.equal(raw, torch.zeros_like(raw))
    assert torch.equal(raw[~known], comp[~known])  # in the hole the composite is the raw output
    assert not torch.allclose(poisson[~known], comp[~known])  # blending moved the fill toward the boundary
    assert all(torch.equal(o["raw"], raw) for o in outs.values())
    with pytest.raises(ValueError, match="output must be one of"):
        ModelMethod(_ConstantModel(), output="blend")


@pytest.fixture(scope="module")
def psp_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("psp")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=inpainting_tiny", "model=psp", "loss=invertfill",
                                           "++trainer.enable_progress_bar=false", "trainer.accelerator=cpu",
                                           "logger=csv", "trainer.max_steps=2", "+trainer.limit_val_batches=0",
                                           "task.validate_before_fit=false", "callbacks.run_estimate=null",
                                           f"paths.output_dir={tmp}", f"paths.data_dir={tmp}/data"])
    train(cfg)
    return tmp


def test_psp_recipe_sweep_makes_its_table(psp_run, tmp_path, monkeypatch):
    """`evaluate.py -m paper/evaluate=psp ckpt=RUN` (three jobs, Hydra's launcher in this process) then `mminvert table`.
    The three outputs of the same weights share `gap` and the hole pixels, and differ on the known pixels."""
    import runpy

    sweep = tmp_path / "sweep"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [
        "evaluate.py", "-m", "paper/evaluate=psp", f"ckpt={psp_run}", f"paths.data_dir={psp_run}/data", "num_images=4",
        "+data.source.num_test=4", "batch_size=4", "buckets=[0.4-0.6]", "metrics=[psnr,l1_hole]", "baselines=[telea]",
        f"hydra.sweep.dir={sweep}", "progress_interval=1000"])
    GlobalHydra.instance().clear()
    runpy.run_path(str(REPO / "evaluate.py"), run_name="__main__")
    GlobalHydra.instance().clear()
    res = {}
    for i in range(3):
        record = json.loads((sweep / str(i) / "row.json").read_text())
        assert record["table"] == "psp" and record["results"] == "results.json"
        res[record["row"].removeprefix("psp_")] = json.loads((sweep / str(i) / "results.json").read_text())
    assert {o: r["output"] for o, r in res.items()} == {o: o for o in ("composite", "raw", "poisson")}
    assert all(r["metrics"] == ["psnr", "l1_hole", "gap"] for r in res.values())
    row = {o: r["results"]["mminvert"]["0.4-0.6"] for o, r in res.items()}
    assert row["composite"]["gap"] == row["raw"]["gap"] == row["poisson"]["gap"] > 0  # the same raw output
    assert row["composite"]["l1_hole"] == pytest.approx(row["raw"]["l1_hole"])         # identical in the hole
    assert row["raw"]["psnr"] < row["composite"]["psnr"]                             # known pixels now wrong
    assert row["poisson"]["l1_hole"] != pytest.approx(row["composite"]["l1_hole"])
    assert "gap" not in res["raw"]["results"]["telea"]["0.4-0.6"]                   # the model row's metric
    assert "| gap↓ 40–60% |" in (sweep / "1" / "table.md").read_text()
    assert mminvert_cli(["table", str(sweep)]) == 0
    doc = json.loads((sweep / "table.json").read_text())
    assert [r["id"] for r in doc["rows"]] == ["psp_composite", "psp_raw", "psp_poisson"]
    assert doc["rows"][1]["values"]["0.4-0.6"]["psnr"]["mean"] == row["raw"]["psnr"]  # the model row, not telea
    assert doc["rows"][2]["values"]["0.4-0.6"]["gap"] == {"mean": row["poisson"]["gap"], "std": 0.0, "n": 1}
    md = (sweep / "table.md").read_text()
    assert md.index("| pSp |") < md.index("| pSp w/o Comp. |") < md.index("| pSp w/ Blending |")
