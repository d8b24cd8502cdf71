"""Train-then-evaluate in one job: after fit, the final weights are evaluated like `python evaluate.py ckpt=<run>`.

`evaluate_after_fit` in conf/config.yaml: `enabled`, and any key of conf/evaluate.yaml (buckets, num_images,
metrics, baselines, output, ...) to override there. The evaluation config is conf/evaluate.yaml's own keys with
the run's `paths` and `data` in place of its defaults list, so the test split and evaluation masks are those of
the data the run trained on. Results go to `<run>/evaluation/` (results.json, table.md, report.md); then, when the
run names a `paper_row`, `<run>/row.json` marks the job complete (see mminvert.evaluation.row_record).

Only global rank 0 evaluates; the other ranks of a DDP job return as soon as fit has ended.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from ..utils.config_dir import config_dir

__all__ = ["evaluate_after_fit", "evaluation_config", "EVALUATE_CONFIG"]

log = logging.getLogger(__name__)
EVALUATE_CONFIG = config_dir() / "evaluate.yaml"


def evaluation_config(cfg: DictConfig, run_dir: str | Path) -> DictConfig:
    """The evaluate(cfg) config of the training run `cfg` whose folder is `run_dir`."""
    if not EVALUATE_CONFIG.is_file():
        raise FileNotFoundError(f"{EVALUATE_CONFIG} not found: evaluate_after_fit needs the repository's conf/")
    base = OmegaConf.load(EVALUATE_CONFIG)
    base.pop("defaults", None)
    options = OmegaConf.to_container(cfg.evaluate_after_fit, resolve=True)
    options.pop("enabled", None)
    unknown = sorted(set(options) - set(base))
    if unknown:
        raise ValueError(f"evaluate_after_fit: unknown keys {unknown}; it takes `enabled` and the keys of {EVALUATE_CONFIG}")
    run_dir = Path(run_dir)
    paths = OmegaConf.to_container(cfg.paths, resolve=True)
    data = OmegaConf.to_container(cfg.data, resolve=True)
    eval_cfg = OmegaConf.merge(base, {"paths": paths, "data": data}, options,
                               {"ckpt": str(run_dir), "output_dir": str(run_dir / "evaluation"),
                                "paper_row": None, "paper_table": None})
    OmegaConf.resolve(eval_cfg)
    return eval_cfg


def evaluate_after_fit(cfg: DictConfig, trainer: pl.Trainer, run_dir: str | Path) -> dict[str, Any] | None:
    """Evaluate the run's final weights (global rank 0 only) and write the row record; None elsewhere or when
    fit did not finish (interrupted: no results, no marker)."""
    if trainer.global_rank != 0:
        return None
    if trainer.interrupted or not trainer.state.finished:
        log.warning("fit did not finish (%s): no evaluation, and no completion marker", trainer.state.status)
        return None
    from ..evaluation import evaluate
    from ..evaluation.row_record import write_row_record

    run_dir = Path(run_dir)
    payload = evaluate(evaluation_config(cfg, run_dir))
    if cfg.get("paper_row"):
        write_row_record(run_dir, cfg.get("paper_table"), str(cfg.paper_row), cfg.get("seed"),
                         "evaluation/results.json")
    return payload
