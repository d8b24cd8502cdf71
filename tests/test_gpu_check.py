"""`benchmarks/gpu_check.py --device cpu --tiny`: the GPU check's CPU mode runs every stage and writes its JSON, so
the script cannot rot between the runs on real GPUs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = {"numerics_ops", "numerics_generator", "numerics_bf16_step", "smoke_inpainting", "smoke_stylegan2",
          "smoke_diverse", "smoke_wgan_gp", "smoke_ddp", "smoke_bf16_mixed", "throughput_stylegan2",
          "throughput_mminvertfill", "throughput_evaluation"}


@pytest.mark.slow  # about 1.5 min on 2 idle cores (12 stages, several short training runs)
def test_gpu_check_cpu_mode_runs_every_stage(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--tiny",
                        "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    report = json.loads(out.read_text())
    failed = {k: v.get("error") for k, v in report["stages"].items() if v["ok"] is not True}
    assert r.returncode == 0 and not failed, (failed, r.stdout[-2000:], r.stderr[-2000:])
    assert set(report["stages"]) == STAGES
    s = report["stages"]
    assert s["numerics_ops"]["worst_fp32_rel_err"] < 1e-4
    assert s["numerics_generator"]["max_abs_err"] == 0.0  # CPU against CPU: the same numbers
    assert s["numerics_bf16_step"]["output_psnr_db"] > 30 and s["numerics_bf16_step"]["encoder_grad_cosine"] > 0.9
    for key in ("32-true", "32-true_channels_last", "bf16-mixed", "bf16-mixed_channels_last"):
        assert s["throughput_stylegan2"][key]["img_per_s"] > 0
    assert s["throughput_mminvertfill"]["batch_1"]["img_per_s"] > 0 and s["throughput_evaluation"]["img_per_s"] > 0
    assert report["meta"]["device"] == "cpu" and report["meta"]["tiny"] is True
