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
TOP_GROUPS = ("paths", "data", "mask", "model", "gan", "task", "trainer", "logger", "callbacks", "hydra", "experiment", "debug",
              "ablation")
# Groups whose options live in sub-folders (paper/train=table5, paper/row=table5/full) and groups of evaluate.yaml.
NESTED_OPTIONS = ("experiment", "ablation")
EVALUATE_GROUPS = ("paper",)


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
    top, _, sub = group.partition("/")
    primary = "evaluate" if group in EVALUATE_GROUPS else "config"
    if group in TOP_GROUPS or group in EVALUATE_GROUPS:
        overrides = [f"{group}={option}"]
    elif top in NESTED_OPTIONS:  # an option in a sub-folder of the group
        overrides = [f"{top}={sub}/{option}"]
        group = top
    else:  # nested groups (e.g. data/label_map): compose the file under a probe key
        overrides = [f"+{group}@_probe={option}"]
    cfg = _compose(overrides, primary)
    OmegaConf.to_container(cfg, resolve=False)  # structurally valid
    if group in TOP_GROUPS and group not in ("hydra", "experiment", "debug", "ablation"):
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
