"""Every config file under conf/ composes; every object config instantiates."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[1] / "conf"
PRIMARY = ("config", "evaluate")
TOP_GROUPS = ("paths", "data", "mask", "model", "gan", "loss", "optim", "task", "trainer", "logger", "callbacks", "hydra",
              "experiment", "debug", "paper/train", "paper/row")
# Groups whose options live in sub-folders (paper/row=table5/full).
NESTED_OPTIONS = ("paper/row",)
# Groups of evaluate.yaml.
EVALUATE_GROUPS = ("paper/evaluate", "baseline_settings")
# Groups a task lists in its own defaults (composed with that task).
TASK_GROUPS = {"diverse/data": "diverse", "diverse/model": "diverse", "diverse/loss": "diverse"}
# `# @package _global_` patches: they add no node named after their group.
GLOBAL_PATCHES = ("hydra", "experiment", "debug", "paper/train", "paper/row", "paper/evaluate")


def _group_files() -> list[tuple[str, str]]:
    out = []
    for f in sorted(CONF.rglob("*.yaml")):
        rel = f.relative_to(CONF)
        if len(rel.parts) > 1:
            out.append(("/".join(rel.parts[:-1]), rel.stem))
    return out


def _compose(overrides: list[str], name: str = "config", tmp_path: Path | None = None):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        extra = [f"hydra.run.dir={tmp_path}"] if tmp_path else []
        return compose(name, overrides=overrides + extra, return_hydra_config=True)


@pytest.mark.parametrize("name", PRIMARY)
def test_primary_configs_compose(name):
    cfg = _compose([], name)
    assert "paths" in cfg


@pytest.mark.parametrize("group,option", _group_files(), ids=lambda x: str(x))
def test_every_config_file_composes(group, option):
    nested = next((g for g in NESTED_OPTIONS if group.startswith(g + "/")), None)
    if nested:  # an option in a sub-folder of the group
        group, option = nested, f"{group[len(nested) + 1:]}/{option}"
    primary = "evaluate" if group in EVALUATE_GROUPS else "config"
    if group in TOP_GROUPS or group in EVALUATE_GROUPS:
        overrides = [f"{group}={option}"]
    elif group in TASK_GROUPS:
        overrides = [f"task={TASK_GROUPS[group]}", f"{group}={option}"]
    else:  # nested groups (e.g. model/generator): compose the file under a probe key
        overrides = [f"+{group}@_probe={option}"]
    cfg = _compose(overrides, primary)
    OmegaConf.to_container(cfg, resolve=False)  # structurally valid
    if group in TOP_GROUPS and group not in GLOBAL_PATCHES:
        assert group in cfg


@pytest.mark.parametrize("option", [f.stem for f in sorted((CONF / "trainer").glob("*.yaml"))])
def test_trainer_configs_instantiate(option, tmp_path):
    cfg = _compose([f"trainer={option}", "trainer.accelerator=cpu", "trainer.devices=1", "++trainer.strategy=auto",
                    f"paths.output_dir={tmp_path}"])
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_steps == cfg.trainer.max_steps


@pytest.mark.parametrize("option", [f.stem for f in sorted((CONF / "logger").glob("*.yaml"))])
def test_logger_configs_instantiate(option, tmp_path):
    cfg = _compose([f"logger={option}", f"paths.output_dir={tmp_path}"])
    logger = instantiate(cfg.logger)
    assert str(tmp_path) in str(logger.save_dir)


def test_paths_resolve_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MMINVERT_DATA", str(tmp_path / "data"))
    cfg = _compose([f"paths.output_dir={tmp_path}"])
    assert cfg.paths.data_dir == str(tmp_path / "data")
