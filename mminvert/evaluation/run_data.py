"""Which data set `evaluate.py` scores: the one the checkpoint was trained on, unless `data=` says otherwise.

- `evaluate.py ckpt=RUN` (no `data=`): the data config recorded in the checkpoint / bundle (or its run folder's
  config.yaml), so a run trained on `data=clothes` is scored on that data set's test split.
- `evaluate.py ckpt=RUN data=<preset>`: that preset; a WARNING when its source differs from the training data.
- `evaluate.py ckpt=RUN +data.source.num_test=100` (keys without `data=`): the training data with those changes.
- Files that record no data set (written before records existed, outside a run folder): the default preset
  (`default_data` of conf/evaluate.yaml, the built-in scenes), with a WARNING saying so.

The first log line of an evaluation (`DataChoice.log`) names the data set, split, image count and resolution, and
results.json holds the same under `dataset`; the scored images are listed in `<output_dir>/test_images.txt`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from ..data.run_data import describe_data, read_data_record
from ..io.atomic import atomic_write_text
from ..io.formats import DATA_RECORD_KEY

__all__ = ["DataChoice", "select_data", "write_scored_images"]

log = logging.getLogger(__name__)


@dataclass
class DataChoice:
    """The data config evaluate() uses (`cfg.data` after `select_data`) and why it was chosen."""

    name: str | None          # preset name when known
    description: str          # for log lines: preset (source kind, root)
    chosen_by: str            # checkpoint | run_config | data= | default
    warnings: list[str]
    trained_on: str | None    # description of the training data when recorded

    def first_line(self, count: int, resolution: int) -> str:
        why = {"checkpoint": "recorded in the checkpoint", "run_config": "the run folder's config.yaml",
               "data=": "data= override", "default": "default: the checkpoint records no data set"}[self.chosen_by]
        return f"evaluating on {self.description}, test split, {count} images at {resolution} px ({why})"

    def log(self, count: int, resolution: int) -> None:
        """The evaluation's first log line, then the warnings about the choice."""
        log.info(self.first_line(count, resolution))
        for w in self.warnings:
            log.warning(w)

    def info(self, count: int, resolution: int) -> dict[str, Any]:
        """The `dataset` entry of results.json."""
        return {"name": self.name, "description": self.description, "split": "test", "count": count,
                "resolution": resolution, "chosen_by": self.chosen_by, "trained_on": self.trained_on,
                "images": "test_images.txt"}


def _source(data: Any) -> dict[str, Any]:
    container = OmegaConf.to_container(data, resolve=True) if isinstance(data, DictConfig) else dict(data)
    return dict(container.get("source") or {})


def _real_images(record: dict[str, Any] | None, ckpt_path: str | Path) -> dict[str, Any] | None:
    """The record of the real images a run can be scored on: a diverse run trains on generated images
    (GeneratedDataModule), so its test split is that of its real data (`data.real`)."""
    config = (record or {}).get("config") or {}
    if not str(config.get("_target_", "")).endswith("GeneratedDataModule"):
        return record
    if not config.get("real"):
        raise ValueError(f"{ckpt_path} was trained on generated images only (no data.real): pass data=<preset> "
                         "(conf/data/) to say which test split to evaluate")
    return {**record, "config": config["real"]}


def select_data(cfg: DictConfig, ckpt_obj: Any, ckpt_path: str | Path) -> DataChoice:
    """Set `cfg.data` to the data config to evaluate on (see the module docstring) and say why."""
    record = _real_images(read_data_record(ckpt_obj, ckpt_path), ckpt_path)
    recorded_by = "checkpoint" if isinstance(ckpt_obj, dict) and DATA_RECORD_KEY in ckpt_obj else "run_config"
    trained_on = describe_data(record["config"], record.get("name")) if record else None
    given = cfg.get("data")
    warnings: list[str] = []
    patch = None
    if given is not None and "_target_" not in given:  # +data.key=value without data=: changes to the chosen data
        patch, given = OmegaConf.to_container(given, resolve=True), None
        with open_dict(cfg):
            cfg.data = None
    if given is not None:  # data=<preset> on the command line (or a composed config that sets it)
        name = _hydra_choice("data")
        description = describe_data(given, name)
        if record is not None and _source(given) != _source(record["config"]):
            warnings.append(f"data={name or description} differs from the data this checkpoint was trained on "
                            f"({trained_on}): the scores are on {description}, not on the training data set. "
                            "Leave data= out to evaluate on the training data.")
        return DataChoice(name, description, "data=", warnings, trained_on)
    if record is not None:
        with open_dict(cfg):
            cfg.data = OmegaConf.merge(record["config"], patch or {})
        description = trained_on if not patch else f"{trained_on} with {_flat(patch)}"
        return DataChoice(record.get("name"), description, recorded_by, warnings, trained_on)
    default = cfg.get("default_data")
    if default is None:
        raise ValueError(f"{ckpt_path} does not record the data set it was trained on: pass data=<preset> "
                         "(conf/data/) to say which test split to evaluate")
    with open_dict(cfg):
        cfg.data = OmegaConf.merge(default, patch or {})
    name = _hydra_choice("data@default_data")
    description = describe_data(cfg.data, name) + (f" with {_flat(patch)}" if patch else "")
    warnings.append(f"{ckpt_path} does not record the data set it was trained on (written before checkpoints "
                    f"recorded it): evaluating on the default data set {description}. Pass data=<preset> if the model "
                    "was trained on other data.")
    return DataChoice(name, description, "default", warnings, None)


def _flat(patch: dict[str, Any], prefix: str = "data.") -> str:
    """{'source': {'num_test': 4}} -> 'data.source.num_test=4'."""
    items = []
    for k, v in patch.items():
        items += [_flat(v, f"{prefix}{k}.")] if isinstance(v, dict) else [f"{prefix}{k}={v}"]
    return ", ".join(items)


def _hydra_choice(key: str) -> str | None:
    """The option Hydra composed for defaults-list entry `key` (e.g. "data"), or None outside a Hydra run."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get().runtime.choices.get(key) if HydraConfig.initialized() else None
    except (ImportError, ValueError, AttributeError):
        return None


def write_scored_images(out_dir: str | Path, source: Any) -> Path:
    """`<out_dir>/test_images.txt` (written atomically): the key (file path, or scene id) of every scored test image,
    one per line."""
    inner = getattr(source, "source", source)
    keys = [str(inner.key(i)) if hasattr(inner, "key") else str(i) for i in range(len(source))]
    return atomic_write_text(Path(out_dir) / "test_images.txt", "".join(f"{k}\n" for k in keys))
