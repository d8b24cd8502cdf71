"""Every `python train.py ...` command that README.md, docs/ and the config comments show composes as written, and
builds its LightningModule and DataModule.

Commands are taken from the text, not from a list kept here, so a renamed group or key in a doc fails this test.
Notation in the docs: `key=a|b` (alternatives: each is checked), `[key=value]` (optional: checked included),
`-m key=a,b` (a sweep: each value is checked), `...` (any further overrides) and `<placeholder>` values (dropped).
Files the user brings (a generator `G.pt`, a photo folder, perceptual-network weights) are replaced by stand-ins.
"""
from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from mminvert.runner.run import build_module

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
# docs/own_data.md trains on the reader's own preset (data=my_data): tests/test_own_data.py runs its commands end to end.
SOURCES = [REPO / "README.md", *sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "own_data.md"),
           *sorted(CONF.rglob("*.yaml"))]
PHOTOS = "/my/photos"  # the README's example folder of the user's own images


def _command_lines(text: str) -> list[str]:
    """`python train.py ...` commands: in backticks, in code blocks or in `#` comments; `\\` continues a line."""
    lines = [re.sub(r"^\s*#\s?", "", ln) for ln in text.splitlines()]
    joined, buf = [], ""
    for ln in lines:
        if buf:
            ln = buf + " " + ln.strip()
            buf = ""
        if ln.rstrip().endswith("\\"):
            buf = ln.rstrip()[:-1]
            continue
        joined.append(ln)
    out = []
    for ln in joined:
        for m in re.finditer(r"python train\.py((?:[^`#\n])*)", ln):
            out.append(m.group(1).strip())
    return out


def _expand(args: str) -> list[list[str]]:
    """The override lists a documented command stands for (see the module docstring)."""
    tokens = [t for t in shlex.split(args.replace("[", " ").replace("]", " ")) if t not in ("...", "-m", "--multirun")]
    choices: list[list[str]] = []
    for t in tokens:
        if "=" not in t or "<" in t:
            continue  # prose after the command, or a placeholder value
        key, value = t.split("=", 1)
        if "|" in value:
            choices.append([f"{key}={v}" for v in value.split("|")])
        elif "," in value and not value.startswith(("[", "{")):
            choices.append([f"{key}={v}" for v in value.split(",")])
        else:
            choices.append([t])
    return [list(c) for c in itertools.product(*choices)] if choices else [[]]


def documented_commands() -> list[tuple[str, list[str]]]:
    found: dict[str, tuple[str, list[str]]] = {}
    for src in SOURCES:
        for args in _command_lines(src.read_text()):
            for overrides in _expand(args):
                key = " ".join(overrides)
                found.setdefault(key, (f"{src.relative_to(REPO)}: python train.py {key}", overrides))
    return sorted(found.values())


COMMANDS = documented_commands()


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> dict[str, str]:
    photos = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    return {PHOTOS: str(photos)}


def _with_stand_ins(overrides: list[str], stand_ins: dict[str, str]) -> list[str]:
    out = []
    file_generator = "model/generator=file" in overrides
    for o in overrides:
        key, _, value = o.partition("=")
        if file_generator and key in ("model/generator", "model.generator.path"):
            continue  # the user's generator file: a random generator of the stated resolution stands in
        out.append(f"{key}={stand_ins.get(value, value)}")
    if file_generator:
        res = next((o.split("=")[1] for o in overrides if o.startswith("model.generator.resolution=")), "256")
        out = [o for o in out if not o.startswith("model.generator.resolution=")]
        out.append(f"model/generator=random{res}")
    return out


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 15  # README, docs and config comments together; a parser regression shows here
    shown = {" ".join(o) for _, o in COMMANDS}
    assert "task=stylegan2" in shown and "" in shown  # `python train.py` as written, and the case


def _compose(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.mark.parametrize("where,overrides", COMMANDS, ids=[w for w, _ in COMMANDS])
@pytest.mark.filterwarnings("ignore:.*pretrained. false.*")
def test_documented_command_composes_and_builds(where, overrides, stand_ins, tmp_path):
    overrides = [*_with_stand_ins(overrides, stand_ins), f"paths.output_dir={tmp_path}"]
    cfg = _compose(overrides)
    generator = cfg.model.generator if cfg.get("model") else None
    if generator is not None and generator.pretrained and not Path(str(generator.path)).suffix == "":
        # a paper preset naming the user's generator file (not shipped): a random one of its resolution stands in
        overrides.append(f"model/generator=random{generator.resolution}")
    if OmegaConf.select(cfg, "loss.terms.perceptual.pretrained") and \
            OmegaConf.select(cfg, "loss.terms.perceptual.backbone") != "stylegan2_d":  # that one ships (bundled D)
        overrides.append("loss.terms.perceptual.pretrained=false")  # ImageNet/ADE20k weights: the user's files
    cfg = _compose(overrides)
    big = cfg.data.resolution > 64
    with torch.device("meta" if big else "cpu"):  # paper-scale networks: shapes only
        module = build_module(cfg)
    assert module.__class__.__name__ in ("InpaintingModule", "StyleGAN2Module", "WGANGPModule", "DiverseModule")
    datamodule = instantiate(cfg.data)
    assert datamodule.hparams.get("resolution", getattr(datamodule, "resolution", None)) is not None
