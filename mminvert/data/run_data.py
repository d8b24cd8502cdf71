"""The data set a run trained on, recorded in its checkpoints and bundles and read back by evaluation and export.

A record is plain data stored under `DATA_RECORD_KEY` of a training checkpoint or inference bundle:

    {"name": "clothes" | None,          # the data preset (`data=<name>`), when Hydra chose one
     "config": {...},                   # the resolved data config (InpaintingDataModule keys), instantiable as is
     "resolution": 32, "num_classes": 11, "class_names": [...]}

Files written before records existed carry none; for those `read_data_record` falls back to the run folder's
resolved `config.yaml` (`<run>/config.yaml` beside `<run>/checkpoints/`), and returns None when that is missing too.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..io.formats import DATA_RECORD_KEY
from ..io.run_folder import RUN_CONFIG, run_folder_of

__all__ = ["DATA_RECORD_KEY", "data_record", "read_data_record", "describe_data", "preset_name"]

log = logging.getLogger(__name__)



# Defaults-list entries that place a data preset at `data`: the data group, and the diverse task's own group.
_DATA_GROUPS = ("data", "diverse/data")


def preset_name() -> str | None:
    """The data option Hydra composed (e.g. "folder", "clothes", the diverse task's "generated"), or None outside a
    Hydra run."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return None
        choices = HydraConfig.get().runtime.choices
        return next((choices[g] for g in _DATA_GROUPS if choices.get(g) is not None), None)
    except (ImportError, ValueError, AttributeError):
        return None


def data_record(data_cfg: DictConfig | dict, name: str | None = None, class_names: Any = None) -> dict[str, Any]:
    """The record of a data config (resolved within its parent config); `class_names` from the built DataModule
    when known (they may come from the source, e.g. a label map), else from the config."""
    config = OmegaConf.to_container(data_cfg, resolve=True) if isinstance(data_cfg, DictConfig) else dict(data_cfg)
    names = list(class_names or config.get("class_names") or [])
    return {"name": name if name is not None else preset_name(), "config": config,
            "resolution": int(config.get("resolution") or 0), "num_classes": int(config.get("num_classes") or 0),
            "class_names": [str(n) for n in names]}


def _from_run_config(path: Path) -> dict[str, Any] | None:
    """The record rebuilt from the resolved `config.yaml` of the run folder holding checkpoint `path`."""
    run_config = run_folder_of(path) / RUN_CONFIG
    if not run_config.is_file():
        return None
    try:
        cfg = OmegaConf.load(run_config)
    except Exception:  # noqa: BLE001 - any unreadable YAML: no record, the caller says what it does instead
        log.warning("%s: unreadable run config; the data set of this run is unknown", run_config)
        return None
    data = cfg.get("data")
    if not isinstance(data, DictConfig) or "source" not in data:
        return None
    return data_record(data, name=None)


# `_target_`s that older checkpoints and run folders recorded, and where those classes live now.
MOVED_TARGETS = {"mminvert.diverse.GeneratedDataModule": "mminvert.data.GeneratedDataModule",
                 "mminvert.diverse.data.GeneratedDataModule": "mminvert.data.GeneratedDataModule"}


def _moved(config: Any) -> Any:
    """`config` (nested dicts / lists) with every `_target_` of MOVED_TARGETS replaced by the class's new home."""
    if isinstance(config, dict):
        return {k: MOVED_TARGETS.get(v, v) if k == "_target_" else _moved(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_moved(v) for v in config]
    return config


def read_data_record(obj: Any, path: str | Path) -> dict[str, Any] | None:
    """The data record of a checkpoint / bundle dict `obj` read from `path`, else of its run folder, else None;
    targets of classes that have moved since the record was written point to their new home."""
    if isinstance(obj, dict) and isinstance(obj.get(DATA_RECORD_KEY), dict):
        record = obj[DATA_RECORD_KEY]
    else:
        record = _from_run_config(Path(path))
    return None if record is None else {**record, "config": _moved(record.get("config"))}


def describe_data(data_cfg: DictConfig | dict, name: str | None = None) -> str:
    """A short name of a data config for log lines: the preset name and the source (folder root when it has one)."""
    data = OmegaConf.to_container(data_cfg, resolve=True) if isinstance(data_cfg, DictConfig) else data_cfg
    source = data.get("source") or {}
    kind = str(source.get("_target_", "?")).rsplit(".", 1)[-1]
    where = f" {source['root']}" if source.get("root") else ""
    return f"{name} ({kind}{where})" if name else f"{kind}{where}"
