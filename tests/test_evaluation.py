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
from mminvert.inference import Inpainter
from mminvert.inference.cli import inpaint_paths
from mminvert.io import resolve_checkpoint, save_stylegan2
from mminvert.metrics import find_inception_weights
from mminvert.runner import train
from mminvert.stylegan2 import StyleGAN2Discriminator

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
                                             "num_images=4", "+data.source.num_test=4", "batch_size=4",
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


def test_standard_row_first_then_labelled_guided_rows(run_dir, tmp_path):
    res = _evaluate(run_dir, tmp_path, "guidance=[none,known,gt]", "metrics=[psnr,l1_hole]")
    assert list(res["results"]) == ["mminvert", "mminvert[known]", "mminvert[gt]", "telea"]
    assert res["given"]["mminvert"] == res["given"]["telea"] == "image and mask only (standard inpainting)"
    assert "known pixels" in res["given"]["mminvert[known]"] and "whole image" in res["given"]["mminvert[gt]"]
    l1 = [res["results"][m]["0.7-0.9"]["l1_hole"] for m in ("mminvert", "mminvert[known]", "mminvert[gt]")]
    assert len(set(l1)) == 3  # the rows did see different inputs
    for bucket, (lo, hi) in (("0.1-0.3", (0.1, 0.3)), ("0.7-0.9", (0.7, 0.9))):
        r = res["hole_ratios"][bucket]
        assert lo <= r["min"] <= r["median"] <= r["max"] <= hi
    table = (tmp_path / "table.md").read_text()
    assert table.index("| mminvert |") < table.index("| mminvert[known] |") < table.index("| telea |")


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


# --- real-image Inception features: computed once, cached on disk, never trusted blindly --------------------

def _count_inception_images(monkeypatch) -> list[int]:
    """Patch InceptionFeatures.forward to record the batch size of every call."""
    from mminvert.metrics import InceptionFeatures

    calls: list[int] = []
    forward = InceptionFeatures.forward

    def counting(self, images):
        calls.append(images.shape[0])
        return forward(self, images)

    monkeypatch.setattr(InceptionFeatures, "forward", counting)
    return calls


def test_feature_cache_gives_identical_numbers_and_saves_inception_passes(run_dir, tmp_path, monkeypatch, caplog):
    try:
        find_inception_weights()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    calls = _count_inception_images(monkeypatch)
    metrics = "metrics=[fid,p_ids,u_ids,psnr]"
    cache = tmp_path / "cache"

    def run(name: str, *extra: str) -> dict:
        calls.clear()
        return _evaluate(run_dir, tmp_path / name, metrics, *extra)["results"]

    cold = run("cold", f"feature_cache={cache}")
    assert sum(calls) == 4 * (1 + 2) + 4 * 2  # real images in the first bucket only (the old code: every bucket)
    assert len(calls) == 2  # one forward per batch: real images and both methods' composites together
    files = list(cache.glob("real_*.npz"))
    assert len(files) == 1
    warm = run("warm", f"feature_cache={cache}")
    assert sum(calls) == 4 * 2 * 2  # composites only
    assert cold == warm  # exact: the cache changes nothing but the work
    files[0].write_bytes(b"not a cache file")
    caplog.clear()
    with caplog.at_level("WARNING"):
        corrupt = run("corrupt", f"feature_cache={cache}")
    assert "ignoring the real-image feature cache" in caplog.text and str(files[0]) in caplog.text
    assert corrupt == cold and sum(calls) == 4 * (1 + 2 * 2)
    with np.load(files[0]) as f:  # rewritten, valid
        assert f["features"].shape == (4, 2048)
    run("fewer", f"feature_cache={cache}", "num_images=3", "buckets=[0.4-0.6]")  # another key: another file,
    assert len(list(cache.glob("real_*.npz"))) == 2  # the first one kept


def test_real_feature_cache_key_corruption_and_stale_images(tmp_path, caplog):
    import torch

    from mminvert.evaluation.real_features import RealFeatureCache, RealFeatures

    key = {"data": {"source": {"_target_": "x", "seed": 0}}, "split": "test", "count": 3, "resolution": 32,
           "inception": {"sha256": "abc"}}
    cache = RealFeatureCache(tmp_path, key)
    assert RealFeatureCache(tmp_path, {**key, "resolution": 64}).path != cache.path
    assert RealFeatureCache(tmp_path, {**key, "inception": {"sha256": "abd"}}).path != cache.path
    assert RealFeatureCache(tmp_path, dict(reversed(list(key.items())))).path == cache.path  # order-free
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    feats = torch.rand(3, 8)
    store = RealFeatures(3, cache)
    assert store.get(0, images[:2]) is None
    store.put(0, images[:2], feats[:2])
    store.finish()
    assert not cache.path.exists()  # incomplete: nothing written
    store.put(2, images[2:], feats[2:])
    store.finish()
    again = RealFeatures(3, cache)
    torch.testing.assert_close(again.get(0, images[:2]), feats[:2], rtol=0, atol=0)
    torch.testing.assert_close(again.get(2, images[2:]), feats[2:], rtol=0, atol=0)
    with caplog.at_level("WARNING"):
        assert again.get(0, images[:2] * 0.5) is None  # other images at these positions: recomputed
    assert "does not match the images" in caplog.text
    caplog.clear()
    cache.path.write_bytes(cache.path.read_bytes()[:100])  # truncated file
    with caplog.at_level("WARNING"):
        assert RealFeatures(3, cache).get(0, images[:2]) is None
    assert "ignoring the real-image feature cache" in caplog.text
    assert RealFeatureCache(tmp_path, key).load(4) is None  # wrong count


# --- progress ----------------------------------------------------------------------------------------------

def test_progress_logs_lines_when_not_a_tty_and_draws_a_bar_on_one(caplog):
    import io
    import logging

    from mminvert.evaluation.progress import Progress
    from mminvert.utils.durations import format_duration

    t = [0.0]
    clock = lambda: t[0]  # noqa: E731
    with caplog.at_level(logging.INFO, logger="mminvert.evaluation.progress"):
        p = Progress("bucket 0.1-0.3", 40, interval=10, stream=io.StringIO(), clock=clock)
        for _ in range(4):
            with p.stage("telea"):
                t[0] += 6.0
            p.update(10)
        p.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "bucket 0.1-0.3: 20/40 images (50%), 1.67 images/s, elapsed 0:12, ETA 0:12"  # 12 s > 10 s
    assert lines[1].startswith("bucket 0.1-0.3: 40/40 images (100%)")  # the last item always
    assert len(lines) == 3 and "done in 0:24 (telea 0:24)" in lines[2]
    assert format_duration(754) == "12:34" and format_duration(5400) == "1:30:00"
    tty = io.StringIO()
    bar = Progress("b", 4, stream=tty, tty=True, clock=clock)
    with bar.stage("mminvert"):
        pass
    bar.update(2)
    assert "\r" in tty.getvalue() and "2/4 images" in tty.getvalue() and "[mminvert]" in tty.getvalue()


# --- #12 defect 10: no quiet adjustment of inputs ----------------------------------------------------------

def test_num_images_beyond_the_test_split_warns_and_makes_only_the_masks_used(run_dir, tmp_path, caplog):
    data, cache = tmp_path / "data", tmp_path / "cache"
    with caplog.at_level("WARNING"):
        res = _evaluate(run_dir, tmp_path / "out", "num_images=10", f"paths.data_dir={data}", f"paths.cache_dir={cache}",
                        "buckets=[0.4-0.6]", "metrics=[psnr]", "baselines=[]")
    assert "num_images=10 but the test split has only 4 images" in caplog.text
    assert res["num_images"] == 4 and "count=4" in res["masks"]
    assert not data.exists()  # a set the repository does not ship is made in the cache folder
    manifest = json.loads(next((cache / "eval_masks").glob("*/0.40-0.60_spread/manifest.json")).read_text())
    assert manifest["count"] == 4 and len(list((cache / "eval_masks").glob("*/0.40-0.60_spread/*.png"))) == 4


def test_explicit_missing_fid_weights_is_an_error(run_dir, tmp_path):
    missing = tmp_path / "no_such_inception.pt"
    with pytest.raises(FileNotFoundError, match=f"fid_weights={missing}: no such file"):
        _evaluate(run_dir, tmp_path / "out", f"fid_weights={missing}")  # skip_unavailable does not excuse it


def test_evaluate_script_prints_progress_and_fails_on_a_missing_fid_file(run_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = [sys.executable, str(REPO / "evaluate.py"), f"ckpt={run_dir}", f"paths.data_dir={run_dir}/data",
              "num_images=4", "+data.source.num_test=4", "batch_size=2", "buckets=[0.4-0.6]", "metrics=[psnr,l1_hole]"]
    r = subprocess.run(common + [f"output_dir={tmp_path / 'ok'}", f"hydra.run.dir={tmp_path / 'h1'}",
                                 "progress_interval=0"], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout + r.stderr  # not a TTY: log lines, no bar
    assert "bucket 0.4-0.6: 2/4 images (50%)" in out and "bucket 0.4-0.6: 4/4 images (100%)" in out
    assert "ETA" in out and "\r" not in out
    missing = tmp_path / "missing.pt"
    r = subprocess.run(common + [f"output_dir={tmp_path / 'bad'}", f"hydra.run.dir={tmp_path / 'h2'}",
                                 f"fid_weights={missing}"], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode != 0 and f"fid_weights={missing}: no such file" in r.stderr
    assert not (tmp_path / "bad" / "results.json").exists()
