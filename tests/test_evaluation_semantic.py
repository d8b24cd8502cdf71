"""evaluate.py with the semantic baselines on a tiny trained checkpoint: telea, optim_inversion and magec
rows, the edit-consistency score option, attribute guidance from the command line, and editing the W+
codes MMInvertFill returns."""
from __future__ import annotations

import torch

from mminvert.editing import fit_directions, load_attribute_classifier
from mminvert.editing.write_directions import sample_latent_pairs
from mminvert.inference import Inpainter
from mminvert.io import resolve_checkpoint

from .test_evaluation import _evaluate, run_dir  # noqa: F401  (the tiny trained checkpoint fixture)

TINY_MAGEC = ["magec.phases=[{steps:2,mse:0.001,lpips:0.5,id:0.0003,magec:0.0003},"
              "{steps:2,mse:0.5,lpips:0.5,id:0.0003,magec:0.0003}]", "magec.linknet_samples=32",
              "magec.linknet_steps=20", "magec.edits=[[cloud,2.0],[tree,-2.0]]"]


def test_three_baseline_rows_and_ecs(run_dir, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no LPIPS weights: fallbacks are reported
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)
    res = _evaluate(run_dir, tmp_path / "e", "baselines=[telea,optim_inversion,magec]", "buckets=[0.4-0.6]",
                    "metrics=[psnr,l1_hole]", "optim_inversion.steps=3", *TINY_MAGEC,
                    "ecs.edits=[[cloud,2.0]]", "ecs.num_images=2", "ecs.fit_samples=32")
    assert set(res["results"]) == {"mminvert", "telea", "optim_inversion", "magec"}
    for name in ("telea", "optim_inversion", "magec"):
        assert set(res["results"][name]["0.4-0.6"]) == {"psnr", "l1_hole"}
    table = (tmp_path / "e" / "table.md").read_text()
    assert "| magec |" in table and "| optim_inversion |" in table and "| telea |" in table
    skipped = res["skipped"]
    assert "offline fallback" in skipped["magec LPIPS term"] and skipped["magec ID term"].startswith("off")
    ecs = res["ecs"]
    assert "offline fallback" in ecs["distance"] and ecs["num_images"] == 2
    assert set(ecs) >= {"optim_inversion", "magec"} and "telea" not in ecs
    for name in ("optim_inversion", "magec"):
        v = ecs[name]["cloud+2"]
        assert v == v and v >= 0  # a number (not NaN)


def test_lambda_magec_zero_changes_the_row_and_guidance_from_the_command_line(run_dir, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    common = ["buckets=[0.4-0.6]", "metrics=[psnr,l1_hole]", *TINY_MAGEC]
    with_m = _evaluate(run_dir, tmp_path / "a", "baselines=[magec]", *common, "magec.lambda_magec=3.0")
    without = _evaluate(run_dir, tmp_path / "b", "baselines=[magec]", *common, "magec.lambda_magec=0")
    assert with_m["results"]["magec"] != without["results"]["magec"]
    guided = _evaluate(run_dir, tmp_path / "g", "baselines=[optim_inversion]", "optim_inversion.steps=3",
                       "buckets=[0.4-0.6]", "metrics=[psnr,l1_hole]",
                       "optim_inversion.guidance=[{classifier:scenes64,targets:{tree:1,building:0},weight:5.0}]")
    plain = _evaluate(run_dir, tmp_path / "p", "baselines=[optim_inversion]", "optim_inversion.steps=3",
                      "buckets=[0.4-0.6]", "metrics=[psnr,l1_hole]")
    assert guided["results"]["optim_inversion"] != plain["results"]["optim_inversion"]


def test_editing_the_codes_mminvertfill_returns(run_dir):  # noqa: F811
    model = Inpainter.from_checkpoint(resolve_checkpoint(run_dir)).model.eval()
    G = model.generator
    F = load_attribute_classifier("scenes64")
    ws, probs = sample_latent_pairs(G, F, 64)
    dirs = fit_directions(ws, probs, F.names, extremes=0.5)
    R = G.resolution
    image = torch.rand(2, 3, R, R) * 2 - 1
    mask = torch.ones(2, 1, R, R)
    mask[..., R // 4: 3 * R // 4, R // 4: 3 * R // 4] = 0
    with torch.no_grad():
        out = model({"image": image * mask, "mask": mask})  # no auxiliary modalities: plain inpainting
        k = int(torch.nan_to_num(dirs.accuracy, nan=-1).argmax())
        edited = dirs.edit(out["ws"], dirs.names[k], 3.0)
        assert edited.shape == out["ws"].shape
        before = G.synthesis(out["ws"], noise_mode="const")
        after = G.synthesis(edited, noise_mode="const")
    assert (after - before).abs().mean() > 1e-4
    assert dirs.distance(edited, dirs.names[k]).mean() > dirs.distance(out["ws"], dirs.names[k]).mean()
