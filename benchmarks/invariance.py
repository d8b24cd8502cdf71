"""Behaviour fingerprint of the tree, for refactorings that must change nothing.

    python benchmarks/invariance.py capture OUT_DIR     # run the checks, write OUT_DIR/fingerprint.json
    python benchmarks/invariance.py compare A.json B.json   # exit 1 and list what differs

What is fingerprinted (only public entry points, so the same script runs before and after a move):
- the logged training losses of every step of 20-step runs of `experiment=inpainting_tiny`, `diverse_tiny` and
  `stylegan2_tiny` (CSV logger, one row per step; fixed seed, one thread);
- `results.json` of `evaluate.py` on the bundled model (16 images per bucket, Telea as a baseline; timings,
  dates and paths are dropped);
- raw outputs and composites of the bundled model through `Inpainter` on 8 generated scenes and masks (sha256 of
  the float32 bytes plus the mean, so a difference is visible as well as detected).
Comparison is exact: a refactoring must be bit-identical on one machine and thread count.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this tree's mminvert, not an installed (editable) copy of another
TRAIN_PRESETS = ("inpainting_tiny", "diverse_tiny", "stylegan2_tiny")
VOLATILE = ("time", "seconds", "date", "path", "dir", "version", "host", "machine", "cpu", "command", "ckpt",
            "output", "images_file", "cache")


def _run(args: list[str]) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-4000:]}")


def training_losses(preset: str, out: Path) -> dict[str, list[str]]:
    """Every logged value of every step of a 20-step run: {metric: [value per logged row]} (exact strings)."""
    run_dir = out / f"train_{preset}"
    _run(["train.py", f"experiment={preset}", "threads=1", "trainer.max_steps=20", "trainer.log_every_n_steps=1",
          "logger=csv", "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"])
    rows = list(csv.DictReader(next(run_dir.rglob("metrics.csv")).open()))
    keys = sorted({k for row in rows for k in row if not any(v in k for v in VOLATILE)})
    return {k: [row.get(k, "") for row in rows] for k in keys}


def _stable(obj):
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in sorted(obj.items()) if not any(v_ in k.lower() for v_ in VOLATILE)}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def evaluation(out: Path) -> dict:
    """results.json of evaluate.py on the bundled model, without its volatile fields."""
    run_dir = out / "evaluate"
    _run(["evaluate.py", "ckpt=mminvert/assets/scenes64_inpainter.pt", "num_images=16", "device=cpu",
          "metrics=[lpips,ssim,psnr,l1_hole,miou]", "baselines=[telea]", "feature_cache=null",
          f"hydra.run.dir={run_dir}"])
    return _stable(json.loads(next(run_dir.rglob("results.json")).read_text()))


def bundle_outputs() -> dict[str, str]:
    """sha256 and mean of the bundled model's raw outputs and composites on 8 generated scenes."""
    import numpy as np
    import torch

    from mminvert.inference import Inpainter

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    inp = Inpainter.from_checkpoint(REPO / "mminvert/assets/scenes64_inpainter.pt", context=0)
    images = [rng.integers(0, 256, (64 + 8 * i, 64, 3), dtype=np.uint8) for i in range(8)]
    masks = []
    for img in images:
        m = np.full(img.shape[:2], 255, np.uint8)
        m[8:40, 12:50] = 0
        masks.append(m)
    outs = inp.batch(images, masks)
    stacked = np.concatenate([np.asarray(o, np.float32).ravel() for o in outs])
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    mask = (torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    from mminvert.data.guidance import guided_batch

    batch = guided_batch({"image": x * mask, "mask": mask}, "none")
    with torch.no_grad():
        out = inp.model(batch)
    raw = torch.cat([out["image"].flatten(), out["ws"].flatten()]).float().numpy()
    return {"composites_sha256": hashlib.sha256(stacked.tobytes()).hexdigest(), "composites_mean": repr(float(stacked.mean())),
            "raw_sha256": hashlib.sha256(raw.tobytes()).hexdigest(), "raw_mean": repr(float(raw.mean()))}


def capture(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = {"training": {p: training_losses(p, out) for p in TRAIN_PRESETS}}
    fingerprint["evaluation"] = evaluation(out)
    fingerprint["bundle"] = bundle_outputs()
    (out / "fingerprint.json").write_text(json.dumps(fingerprint, indent=1, sort_keys=True))
    print(f"wrote {out / 'fingerprint.json'}")


def _diff(a, b, where: str, found: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            _diff(a.get(k), b.get(k), f"{where}.{k}", found)
    elif a != b:
        found.append(f"{where}: {str(a)[:120]} != {str(b)[:120]}")


def compare(a: Path, b: Path) -> int:
    found: list[str] = []
    _diff(json.loads(a.read_text()), json.loads(b.read_text()), "", found)
    print("\n".join(found) if found else "identical")
    return 1 if found else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "capture":
        capture(Path(sys.argv[2]).resolve())
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        raise SystemExit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        raise SystemExit(__doc__)
