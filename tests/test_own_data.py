"""docs/own_data.md end to end: its commands, as written there, on a tiny generated folder of 32 px images with
11-class label maps and file lists, described by a preset kept outside the clone (hydra.searchpath).

Each documented command runs in this process (the real entry points: `mminvert data check`, train.py, evaluate.py,
inpaint.py) from an empty working directory, with overrides appended that make it tiny (2 steps, 4 test images, one
bucket). Checked: `evaluate.py ckpt=RUN` without data= scores the folder's test images and says so in its first log
line and results.json; `data=scenes` on that run warns; figures are >= 256 px per image; a bundle carries the class
names; nothing is written into the clone or the working directory outside outputs/.
"""
from __future__ import annotations

import json
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from mminvert.cli import main as mminvert_main
from mminvert.data import ScenesSource

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "own_data.md"
PRESET = "my_data"
CLASSES = list(ScenesSource.class_names)

# What makes each documented command tiny: these keys replace the documented values or are appended.
TINY = {
    "gan": {"trainer.max_steps": "2", "data.batch_size": "4", "callbacks.checkpoint.every_n_steps": "2",
            "++trainer.enable_progress_bar": "false", "callbacks.run_estimate": "null"},
    "inpainter": {"trainer.max_steps": "2", "data.batch_size": "4", "data.eval_masks.count": "4",
                  "+trainer.limit_val_batches": "1", "++trainer.enable_progress_bar": "false",
                  "callbacks.run_estimate": "null"},
    "evaluate": {"num_images": "4", "batch_size": "4", "buckets": "[0.4-0.6]", "metrics": "[psnr,l1_hole]",
                 "progress_interval": "1000"},
    "inpaint": {},
}


def documented_commands() -> list[str]:
    """The shell commands of the page's bash blocks, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    return [ln.strip() for block in blocks for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]


def _write_folder(root: Path) -> dict[str, list[str]]:
    """20 scenes at 32 px as jpg images in two sub-folders, their label maps as png, and file lists (paths relative
    to the image root): 12 train, 4 val, 4 test. Returns the lists."""
    scenes = ScenesSource(split="train", resolution=32, num_train=20, num_val=0, num_test=0, seed=5)
    rel = []
    for i in range(len(scenes)):
        img, labels, _ = scenes.load(i)
        r = Path("ab"[i % 2]) / f"{i:04d}"
        for sub, array, suffix in (("images", img, ".jpg"), ("labels", labels, ".png")):
            (root / sub / r.parent).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / sub / r.with_suffix(suffix))
        rel.append(str(r.with_suffix(".jpg")))
    lists = {"train": rel[:12], "val": rel[12:16], "test": rel[16:]}
    for split, names in lists.items():
        (root / f"{split}.flist").write_text("# relative to the image root\n" + "\n".join(names) + "\n")
    return lists


def _write_preset(presets: Path, data: Path) -> None:
    """The page's preset, filled in for the tiny folder, in a search-path folder outside the clone."""
    text = DOC.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    text = text.replace("/data/my_data", str(data))
    text = re.sub(r"class_names: \[.*?\]", f"class_names: [{', '.join(CLASSES)}]", text)
    (presets / "data").mkdir(parents=True)
    (presets / "data" / f"{PRESET}.yaml").write_text(text)


def _tiny(command: str, kind: str, searchpath: str, stand_ins: dict[str, str]) -> list[str]:
    """The arguments of a documented command (after the program), with TINY[kind] and the search path applied."""
    args = [stand_ins.get(a, a) for a in shlex.split(command)[2:]]
    for key, value in TINY[kind].items():
        args = [a for a in args if a.split("=", 1)[0].lstrip("+") != key.lstrip("+")] + [f"{key}={value}"]
    return [*args, f"hydra.searchpath=[file://{searchpath}]"]


def _run_script(script: str, args: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [script, *args])
    GlobalHydra.instance().clear()
    try:
        runpy.run_path(str(REPO / script), run_name="__main__")
    finally:
        GlobalHydra.instance().clear()


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*does not have many workers.*", "ignore:.*smaller than the logging interval.*")
def test_the_own_data_page_runs_end_to_end(tmp_path, monkeypatch):
    commands = documented_commands()
    programs = [" ".join(c.split()[:2]) for c in commands]
    assert programs == ["mminvert data", "python train.py", "python train.py", "python evaluate.py",
                        "python inpaint.py"], commands
    data, presets, work = tmp_path / "my_data", tmp_path / "presets", tmp_path / "work"
    lists = _write_folder(data)
    _write_preset(presets, data)
    photos, masks = tmp_path / "new_photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
        hole = np.full((48, 40), 255, np.uint8)
        hole[10:30, 8:24] = 0
        Image.fromarray(hole).save(masks / f"p{i}.png")
    stand_ins = {"input=/path/to/new_photos": f"input={photos}", "mask=/path/to/masks": f"mask={masks}"}
    work.mkdir()
    monkeypatch.chdir(work)
    before = _git_status()

    # 0. the preset check
    assert mminvert_main([*shlex.split(commands[0])[1:], f"hydra.searchpath=[file://{presets}]"]) == 0
    # 1-4. generator, inpainter, evaluation, inpainting: as written, made tiny
    for command, kind in zip(commands[1:], ("gan", "inpainter", "evaluate", "inpaint")):
        _run_script(shlex.split(command)[1], _tiny(command, kind, str(presets), stand_ins), monkeypatch)

    run = work / "outputs" / PRESET
    # the evaluation scored the folder's test split, without data=, and said so first
    first = (run / "evaluation" / "evaluate.log").read_text().splitlines()[0]
    assert f"evaluating on {PRESET} (FolderSource {data}/images), test split, 4 images at 32 px" in first
    assert "recorded in the checkpoint" in first
    scored = (run / "evaluation" / "test_images.txt").read_text().split()
    assert scored == [str(data / "images" / r) for r in lists["test"]]
    results = json.loads((run / "evaluation" / "results.json").read_text())
    assert {k: results["dataset"][k] for k in ("name", "split", "count", "resolution", "chosen_by")} == {
        "name": PRESET, "split": "test", "count": 4, "resolution": 32, "chosen_by": "checkpoint"}
    assert set(results["results"]) == {"mminvert", "telea"}
    # readable figures: >= 256 px per 32 px image (4 x 4 GAN samples; 4 rows of masked | model | telea | truth)
    assert Image.open(run / "gan" / "samples" / "step_0000002.png").width >= 4 * 256
    assert Image.open(run / "evaluation" / "examples_0.4-0.6.png").size == (4 * 256, 4 * 256)
    assert Image.open(next((run / "inpainter" / "samples").glob("val_step_*.png"))).height >= 4 * 256
    # inference on the new photos: same size, known pixels untouched
    for i in range(2):
        out = np.asarray(Image.open(run / "filled" / f"p{i}.png"))
        src = np.asarray(Image.open(photos / f"p{i}.png"))
        assert out.shape == src.shape and np.array_equal(out[:10], src[:10])

    # the folder-trained run evaluated on the built-in scenes: scored, but with a warning
    _run_script("evaluate.py", [f"ckpt={run / 'inpainter'}", "data=scenes", f"hydra.run.dir={run / 'on_scenes'}",
                                *(f"{k}={v}" for k, v in TINY["evaluate"].items())], monkeypatch)
    log = (run / "on_scenes" / "evaluate.log").read_text()
    assert "evaluating on scenes (ScenesSource), test split, 4 images at 32 px (data= override)" in log.splitlines()[0]
    assert re.search(rf"WARNING\] - data=scenes differs from the data this checkpoint was trained on \({PRESET} ", log)
    assert json.loads((run / "on_scenes" / "results.json").read_text())["dataset"]["chosen_by"] == "data="

    # a bundle carries the class names and the data record
    assert mminvert_main(["export", f"ckpt={run / 'inpainter'}", f"out={tmp_path / 'bundle.pt'}"]) == 0
    bundle = torch.load(tmp_path / "bundle.pt", weights_only=True)
    assert bundle["class_names"] == CLASSES and bundle["mminvert_data"]["name"] == PRESET
    assert bundle["mminvert_data"]["config"]["source"]["root"] == str(data / "images")

    # nothing new in the clone; nothing in the working directory but outputs/
    assert _git_status() == before
    assert sorted(p.name for p in work.iterdir()) == ["outputs"]
