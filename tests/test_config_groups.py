"""One schema per config group: every option of a group builds the same kind of object.

The groups are found by walking conf/. Each is declared below with its family: where its options land in the
composed config, and either the class (or function) every option's `_target_` must import to a subclass of (or
be), or, for groups without a `_target_`, the keys every option has. Every option is composed on a minimal base
(`config` with `group=option`, plus the task that lists the group) and checked against the family, so e.g. a
diverse model added back to conf/model/ fails here. `# @package _global_` patches (experiment, paper/*, debug)
are checked by what they patch: each composed group node stays in the family of the group chosen for it, and
the patch adds no top-level key beyond the few its group declares. A folder of configs that is neither declared
nor excluded (with its reason) fails: a new group states its family here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

CONF = Path(__file__).resolve().parents[1] / "conf"


@dataclass(frozen=True)
class Family:
    node: str                                   # where the options land in the composed config
    base: str | None = None                     # every `_target_` at `node` is (a subclass of) this
    keys: frozenset[str] = frozenset()          # groups without `_target_`: the keys every option has ...
    optional: frozenset[str] = frozenset()      # ... and those it may have
    members: dict[str, str] = field(default_factory=dict)  # sub-node -> base of its `_target_` (None allowed)
    entries: str | None = None                  # every entry of the node is a config whose `_target_` is this
    needs: tuple[str, ...] = ()                 # overrides the group needs (the task whose defaults list it)
    primary: str = "config"


FAMILIES: dict[str, Family] = {
    "paths": Family("paths", keys=frozenset({"root_dir", "data_dir", "cache_dir", "weights_dir", "output_dir"})),
    "data": Family("data", "mminvert.data.InpaintingDataModule"),
    "mask": Family("mask", "mminvert.data.masks.MaskGenerator"),  # a Protocol; each option also draws a mask
    "model": Family("model", "mminvert.inversion.MMInvertFill"),
    "model/generator": Family("model.generator", "mminvert.io.build_generator"),
    "gan": Family("gan", keys=frozenset({"generator", "discriminator"}), optional=frozenset({"training"}),
                  members={"generator": "torch.nn.Module", "discriminator": "torch.nn.Module"}),
    "loss": Family("loss", "mminvert.losses.InpaintingLoss"),
    "optim": Family("optim", keys=frozenset({"encoder", "discriminator", "scheduler", "grad_clip"}),
                    members={"encoder": "torch.optim.Optimizer", "discriminator": "torch.optim.Optimizer",
                             "scheduler": "torch.optim.lr_scheduler.LRScheduler"}),
    "task": Family("task", keys=frozenset({"name", "optimized_metric", "module"}),
                   optional=frozenset({"validate_before_fit"}),
                   members={"module": "pytorch_lightning.LightningModule"}),
    "trainer": Family("trainer", "pytorch_lightning.Trainer"),
    "logger": Family("logger", "pytorch_lightning.loggers.Logger"),
    "callbacks": Family("callbacks", entries="pytorch_lightning.Callback"),
    "diverse/data": Family("data", "mminvert.data.GeneratedDataModule", needs=("task=diverse",)),
    "diverse/model": Family("model", "mminvert.diverse.DiverseInversion", needs=("task=diverse",)),
    "diverse/loss": Family("loss", "mminvert.diverse.DiverseLoss", needs=("task=diverse",)),
}
# `# @package _global_` patches -> the top-level keys they may add to the training (or evaluation) config.
GLOBAL_PATCHES: dict[str, frozenset[str]] = {
    "experiment": frozenset(),
    "debug": frozenset(),
    "paper/train": frozenset({"bottleneck_widths"}),   # table 8's matched widths, read by its rows
    "paper/row": frozenset({"stage1_checkpoint"}),     # the diverse "+ stage 2" row names its stage-1 run
    "paper/evaluate": frozenset(),
    "baseline_settings": frozenset({"optim_inversion", "magec", "contextual_inversion"}),  # evaluate.py's baselines
}
EVALUATE_SIDE = ("paper/evaluate", "baseline_settings")       # groups of evaluate.yaml (composed with ckpt=x)
NESTED_OPTIONS = ("paper/row",)           # options in sub-folders: paper/row=<table>/<row>
EXCLUDED = {
    "hydra": "Hydra's own settings (run and sweep folders, job), read by Hydra, not built by mminvert",
    "hydra/launcher": "Hydra launcher plugin settings (submitit), read by Hydra",
    "data/base": "not a group: the settings every data preset includes (base/datamodule@_here_), checked as data",
    "inpaint": "not a group: inpaint.py's primary config (config_name=inpaint/config)",
}


def _config_folders() -> set[str]:
    """Every folder under conf/ that holds a config file (nested options count for their group)."""
    folders = set()
    for f in CONF.rglob("*.yaml"):
        rel = "/".join(f.relative_to(CONF).parts[:-1])
        if rel:
            folders.add(next((g for g in NESTED_OPTIONS if rel.startswith(g + "/")), rel))
    return folders


def _options(group: str) -> list[str]:
    folder = CONF / group
    pattern = "**/*.yaml" if group in NESTED_OPTIONS else "*.yaml"
    return sorted(str(f.relative_to(folder).with_suffix("")) for f in folder.glob(pattern))


@functools.cache
def _top_keys(primary: str, overrides: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_compose(primary, list(overrides)))


def _compose(primary: str, overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(primary, overrides=[*overrides, *(["ckpt=x"] if primary == "evaluate" else [])],
                       return_hydra_config=True)


def _is_member(target: Any, base: str) -> bool:
    """The object `target` names is `base`, or a class deriving from it, or (`base` a typing.Protocol such as
    MaskGenerator) a class defining the protocol's methods."""
    obj, ref = get_object(str(target)), get_object(base)
    if obj is ref:
        return True
    if not (isinstance(obj, type) and isinstance(ref, type)):
        return False
    if getattr(ref, "_is_protocol", False):
        methods = {k for k, v in vars(ref).items() if callable(v) and (k == "__call__" or not k.startswith("_"))}
        return all(any(m in vars(c) for c in obj.__mro__[:-1]) for m in methods)
    return issubclass(obj, ref)


def _problems(family: Family, node: Any, where: str) -> list[str]:
    """How the composed `node` breaks `family` (empty when it fits)."""
    if family.entries and not node:  # e.g. callbacks=none: no entries
        return []
    if not isinstance(node, DictConfig):
        return [f"{where}: {family.node} is {node!r}, not a config"]
    out = []
    if family.base is not None:
        target = node.get("_target_")
        if target is None:
            out.append(f"{where}: {family.node} has no _target_ (the group builds {family.base})")
        elif not _is_member(target, family.base):
            out.append(f"{where}: {family.node}._target_ {target} is not a {family.base}")
    if family.keys:
        keys = set(node) - {"_target_"} if family.base else set(node)
        if not family.keys <= keys <= family.keys | family.optional:
            out.append(f"{where}: {family.node} has keys {sorted(keys)}, the group's are {sorted(family.keys)} "
                       f"(+ optional {sorted(family.optional)})")
    for key, base in family.members.items():
        sub = node.get(key)
        if sub is not None and not _is_member(sub.get("_target_"), base):
            out.append(f"{where}: {family.node}.{key}._target_ {sub.get('_target_')} is not a {base}")
    for key, sub in (node.items() if family.entries else ()):
        if sub is not None and not _is_member(sub.get("_target_"), family.entries):
            out.append(f"{where}: {family.node}.{key}._target_ {sub.get('_target_')} is not a {family.entries}")
    return out


def test_every_config_folder_is_a_declared_group():
    undeclared = _config_folders() - set(FAMILIES) - set(GLOBAL_PATCHES) - set(EXCLUDED)
    assert not undeclared, f"config groups without a declared family in {__file__}: {sorted(undeclared)}"
    assert not (set(FAMILIES) | set(GLOBAL_PATCHES)) - _config_folders(), "declared groups with no config folder"


@pytest.mark.parametrize("group", sorted(FAMILIES))
def test_every_option_of_a_group_builds_the_groups_kind_of_object(group):
    family = FAMILIES[group]
    problems = []
    for option in _options(group):
        cfg = _compose(family.primary, [*family.needs, f"{group}={option}"])
        assert cfg.hydra.runtime.choices.get(group) == option
        problems += _problems(family, OmegaConf.select(cfg, family.node), f"{group}={option}")
        if group == "mask":  # the MaskGenerator protocol: a mask of 0 (hole) / 1 (known) of the asked size
            mask = instantiate(cfg.mask)(np.random.default_rng(0), 24, 32)
            assert mask.shape == (24, 32) and set(np.unique(mask)) <= {0.0, 1.0}, f"mask={option}"
    assert not problems, "\n".join(problems)


def _patch_cases() -> list[tuple[str, str]]:
    return [(g, o) for g in sorted(GLOBAL_PATCHES) for o in _options(g)]


@pytest.mark.parametrize("group,option", _patch_cases(), ids=lambda x: str(x))
def test_global_patches_keep_every_group_node_in_its_family(group, option):
    primary = "evaluate" if group in EVALUATE_SIDE else "config"
    base = [f"paper/train={option.split('/')[0]}"] if group == "paper/row" else []  # a row composes with its table
    cfg = _compose(primary, [*base, f"{group}={option}"])
    group_nodes = {f.node.split(".")[0] for f in FAMILIES.values()}  # a patch may choose groups (e.g. gan=...)
    added = set(cfg) - _top_keys(primary, tuple(base)) - group_nodes - GLOBAL_PATCHES[group]
    assert not added, f"{group}={option} adds top-level keys {sorted(added)} that no config reads"
    choices = cfg.hydra.runtime.choices
    problems = []
    for g, family in FAMILIES.items():
        if choices.get(g) is not None and family.primary == primary:
            problems += _problems(family, OmegaConf.select(cfg, family.node), f"{group}={option} ({g}={choices[g]})")
    assert not problems, "\n".join(problems)


def test_a_second_schema_in_a_group_fails_the_check():
    """The check can fail: a diverse model in the place of MMInvertFill, and a loss node with a foreign key set."""
    diverse = _compose("config", ["task=diverse"])
    assert _problems(FAMILIES["model"], diverse.model, "probe") and not _problems(FAMILIES["diverse/model"],
                                                                                   diverse.model, "probe")
    assert _problems(FAMILIES["loss"], diverse.loss, "probe")
    optim = OmegaConf.create({"encoder": None, "discriminator": None, "scheduler": None, "grad_clip": 1.0, "lr": 1})
    assert _problems(FAMILIES["optim"], optim, "probe")
