"""evaluate.py on a tiny trained checkpoint, the inpaint CLI and the export command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from PIL import Image

from mminvert.cli import main as mminvert_cli
from mminvert.evaluation import evaluate
from mminvert.io import resolve_checkpoint
from mminvert.inference import Inpainter
from mminvert.inference.cli import inpaint_paths
from mminvert.io import save_stylegan2
from mminvert.stylegan2 import StyleGAN2Discriminator
from mminvert.training import train

CONF = Path(__file__).resolve().parents[1] / "conf"
REPO = CONF.parent


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("run")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=inpainting_tiny", "++trainer.enable_progress_bar=false",
                                           "trainer.accelerator=cpu", "logger=csv", "trainer.max_steps=2",
                                           "+trainer.limit_val_batches=0", f"paths.output_dir={tmp}",
                                           f"paths.data_dir={tmp}/data"])
    train(cfg)
    return tmp


def _evaluate(run_dir: Path, out: Path, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("evaluate", overrides=[f"ckpt={run_dir}", f"output_dir={out}", f"paths.data_dir={run_dir}/data",
                                             "num_images=4", "data.source.num_test=4", "batch_size=4",
                                             "buckets=[0.1-0.3,0.7-0.9]",
                                             "metrics=[fid,p_ids,u_ids,lpips,ssim,psnr,l1_hole,miou]", *overrides])
    return evaluate(cfg)


def test_evaluate_writes_report_and_is_reproducible(run_dir, tmp_path):
    _evaluate(run_dir, tmp_path / "a")
    _evaluate(run_dir, tmp_path / "b")
    for name in ("results.json", "table.md", "report.md", "plot_psnr.png", "examples_0.7-0.9.png"):
        assert (tmp_path / "a" / name).is_file(), name
    res = json.loads((tmp_path / "a" / "results.json").read_text())
    assert res["results"] == json.loads((tmp_path / "b" / "results.json").read_text())["results"]  # identical reruns
    assert set(res["results"]) == {"mminvert", "telea"}
    assert set(res["results"]["telea"]) == {"0.1-0.3", "0.7-0.9"}
    assert "lpips" in res["skipped"] or "lpips" in res["metrics"]  # never silently dropped
    table = (tmp_path / "a" / "table.md").read_text()
    assert "| telea |" in table and "PSNR↑ 70–90%" in table
    # harder buckets are harder for the classical baseline
    psnr = [res["results"]["telea"][b]["psnr"] for b in ("0.1-0.3", "0.7-0.9")]
    assert psnr[0] > psnr[1]


def test_optimisation_baseline_row(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no LPIPS weights: the term is dropped, and said so
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)
    common = ["baselines=[optim_inversion]", "buckets=[0.4-0.6]", "metrics=[psnr,l1_hole]"]
    res = {n: _evaluate(run_dir, tmp_path / str(n), *common, f"optim_inversion.steps={n}") for n in (0, 30)}
    assert set(res[30]["results"]) == {"mminvert", "optim_inversion"}
    assert "LPIPS" in " ".join(res[30]["skipped"]) and "MSE only" in " ".join(res[30]["skipped"].values())
    l1 = {n: res[n]["results"]["optim_inversion"]["0.4-0.6"]["l1_hole"] for n in res}
    assert l1[0] != l1[30]  # the optimisation ran and changed the fill (from w̄'s image)
    assert "| optim_inversion |" in (tmp_path / "30" / "table.md").read_text()
    ctx = _evaluate(run_dir, tmp_path / "ctx", "baselines=[contextual_inversion]", "buckets=[0.4-0.6]",
                    "metrics=[psnr,l1_hole]", "contextual_inversion.steps=5")
    assert set(ctx["results"]) == {"mminvert", "contextual_inversion"}
    assert "off: no `contextual_inversion.discriminator`" in ctx["skipped"]["contextual_inversion prior"]
    model = Inpainter.from_checkpoint(resolve_checkpoint(run_dir)).model
    R = model.generator.resolution
    save_stylegan2(tmp_path / "gd.pt", model.generator, StyleGAN2Discriminator(R, channels=model.generator.channels))
    with_d = _evaluate(run_dir, tmp_path / "ctx_d", "baselines=[contextual_inversion]", "buckets=[0.4-0.6]",
                       "metrics=[psnr,l1_hole]", "contextual_inversion.steps=5",
                       f"contextual_inversion.discriminator={tmp_path / 'gd.pt'}")
    assert "contextual_inversion prior" not in with_d["skipped"]
    assert with_d["results"]["contextual_inversion"] != ctx["results"]["contextual_inversion"]  # the prior acts
    with pytest.raises(ValueError, match=r"unknown baselines \['poisson'\]; available"):
        _evaluate(run_dir, tmp_path / "x", "baselines=[poisson]")


def _write_inputs(root: Path) -> tuple[Path, Path]:
    (root / "in" / "sub").mkdir(parents=True)
    (root / "masks" / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(root / "in" / "a.jpg")
    Image.fromarray(rng.integers(0, 256, (30, 40), dtype=np.uint8), "L").save(root / "in" / "sub" / "b.png")
    for rel, (h, w) in {"a.png": (50, 70), "sub/b.png": (30, 40)}.items():
        m = np.full((h, w), 255, np.uint8)
        m[5:20, 5:20] = 0
        Image.fromarray(m).save(root / "masks" / rel)
    return root / "in", root / "masks"


def test_inpaint_folders_and_refuse_to_overwrite(run_dir, tmp_path):
    inp, masks = _write_inputs(tmp_path)
    inpainter = Inpainter.from_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    written = inpaint_paths(inpainter, inp, masks, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == ["a.png", "sub/b.png"]
    gray = Image.open(tmp_path / "out" / "sub" / "b.png")
    assert gray.mode == "L" and gray.size == (40, 30)
    with pytest.raises(FileExistsError):
        inpaint_paths(inpainter, inp, masks, tmp_path / "out")
    with pytest.raises(ValueError, match="input file"):
        inpaint_paths(inpainter, inp / "sub" / "b.png", masks / "sub" / "b.png", inp / "sub", overwrite=True)
    with pytest.raises(FileNotFoundError, match="no mask"):
        inpaint_paths(inpainter, inp, tmp_path / "masks" / "sub", tmp_path / "out2")


def test_inpaint_script(run_dir, tmp_path):
    inp, masks = _write_inputs(tmp_path)
    r = subprocess.run([sys.executable, str(REPO / "inpaint.py"), f"ckpt={run_dir}", f"input={inp}", f"mask={masks}",
                        f"output={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'hydra'}"],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "sub" / "b.png").is_file()


def test_export_command(run_dir, tmp_path, capsys):
    out = tmp_path / "model.pt"
    assert mminvert_cli(["export", f"ckpt={run_dir}", f"out={out}"]) == 0 and out.is_file()
    assert mminvert_cli(["export", f"ckpt={run_dir}", f"out={out}"]) == 1  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert mminvert_cli(["export", "ckpt=x"]) == 2
    img = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    m = np.full((32, 32), 255, np.uint8)
    m[8:24, 8:24] = 0
    np.testing.assert_array_equal(Inpainter.from_checkpoint(out)(img, m),
                                  Inpainter.from_checkpoint(run_dir / "checkpoints" / "last.ckpt")(img, m))
