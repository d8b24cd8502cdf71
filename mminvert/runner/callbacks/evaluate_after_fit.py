"""Train-then-evaluate in one job: after fit, the final weights are evaluated like `python evaluate.py ckpt=<run>`.

`evaluate_after_fit` in conf/config.yaml: `enabled` switches the `EvaluateAfterFit` callback on, and any key of
the evaluation defaults (conf/evaluate.yaml and its baseline settings, conf/baseline_settings/: buckets,
num_images, metrics, baselines, output, optim_inversion, ...) is overridden there. The evaluation config is those
defaults with the run's `paths` and `data` in place of evaluate.yaml's defaults list, so the test split and
evaluation masks are those of the data the run trained on; it is built (and its keys checked) when the callback
is, before training. Results go to `<run>/evaluation/` (results.json, table.md, report.md); when the run names a
`paper_row`, that evaluation then marks the job complete with `<run>/row.json` (mminvert.evaluation.row_record).

Only global rank 0 evaluates, once fit has ended normally; the other ranks go on at once. An interrupted fit
(Ctrl-C, SIGTERM, an error) is not evaluated and gets no completion marker.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from ...utils.config_dir import config_dir

__all__ = ["EvaluateAfterFit", "evaluation_config", "evaluation_defaults", "EVALUATE_CONFIG", "SETTINGS_GROUPS"]

log = logging.getLogger(__name__)
EVALUATE_CONFIG = config_dir() / "evaluate.yaml"
# Groups of evaluate.yaml's defaults list whose options put their keys at the top level (`# @package _global_`)
# and belong to the evaluation itself (the others, paths / data / mask / hydra / paper, are the run's or unused).
SETTINGS_GROUPS = ("baseline_settings",)


def evaluation_defaults() -> DictConfig:
    """conf/evaluate.yaml's own keys plus those of the SETTINGS_GROUPS options its defaults list picks: what
    `python evaluate.py` composes, without paths, data or Hydra. Read from the checkout's conf/ or the copy an
    installed wheel ships (utils/config_dir.py)."""
    if not EVALUATE_CONFIG.is_file():
        raise FileNotFoundError(f"{EVALUATE_CONFIG} not found: evaluate_after_fit needs mminvert's conf/")
    base = OmegaConf.load(EVALUATE_CONFIG)
    for entry in base.pop("defaults", []):
        for group, option in (entry.items() if isinstance(entry, DictConfig) else ()):
            if group in SETTINGS_GROUPS and option is not None:
                path = EVALUATE_CONFIG.parent / group / f"{option}.yaml"
                if not path.is_file():
                    raise FileNotFoundError(f"{path} not found: {EVALUATE_CONFIG} picks {group}: {option}")
                base = OmegaConf.merge(base, OmegaConf.load(path))  # after _self_, as Hydra composes it
    return base


def evaluation_config(cfg: DictConfig, run_dir: str | Path) -> DictConfig:
    """The evaluate(cfg) config of the training run `cfg` whose folder is `run_dir`."""
    base = evaluation_defaults()
    options = OmegaConf.to_container(cfg.evaluate_after_fit, resolve=True)
    options.pop("enabled", None)
    unknown = sorted(set(options) - set(base))
    if unknown:
        raise ValueError(f"evaluate_after_fit: unknown keys {unknown}; it takes `enabled` and the keys of "
                         f"{EVALUATE_CONFIG} and of its {', '.join(SETTINGS_GROUPS)} options")
    run_dir = Path(run_dir)
    paths = OmegaConf.to_container(cfg.paths, resolve=True)
    data = OmegaConf.to_container(cfg.data, resolve=True)
    eval_cfg = OmegaConf.merge(base, {"paths": paths, "data": data}, options,
                               {"ckpt": str(run_dir), "output_dir": str(run_dir / "evaluation"),
                                "paper_row": None, "paper_table": None})  # the run's row job is passed to evaluate
    OmegaConf.resolve(eval_cfg)
    return eval_cfg


class EvaluateAfterFit(pl.Callback):
    """After a fit that ended normally, global rank 0 evaluates the run's final weights into `<run_dir>/evaluation/`
    and, for a paper-table job (`paper_row`), completes its row (`<run_dir>/row.json`). `payload` is then the
    results.json payload (None on the other ranks and before)."""

    def __init__(self, cfg: DictConfig, run_dir: str | Path) -> None:
        from ...evaluation.row_record import row_job

        self.run_dir = Path(run_dir)
        self.eval_cfg = evaluation_config(cfg, self.run_dir)  # unknown keys stop the run before it trains
        self.job = row_job(cfg, self.run_dir)  # the training run's table, row and seed
        self.payload: dict[str, Any] | None = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning calls this only when fit returned normally (an interrupted or failed fit raises before it)
        if trainer.global_rank != 0:
            return
        from ...evaluation import evaluate

        self.payload = evaluate(self.eval_cfg, self.job)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if trainer.global_rank == 0:
            log.warning("fit did not finish (%s): no evaluation, and no completion marker", type(exception).__name__)
