"""Every row of the paper-table sweeps (conf/paper/train/, conf/paper/row/) composes, builds and trains two
steps at a tiny size; the sweeps enumerate exactly the rows of mminvert.evaluation.paper_table.TABLES; a job with
evaluate_after_fit writes its evaluation and row record."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from mminvert.evaluation.paper_table import TABLES
from mminvert.runner import train
from mminvert.runner.callbacks.evaluate_after_fit import EvaluateAfterFit, evaluation_config

CONF = Path(__file__).resolve().parents[1] / "conf"
SWEPT_TABLES = ("table5", "table6", "table7", "table8")
# inpainting_tiny's sizes (32 px, random generator, narrow encoder), applied on top of a paper preset
TINY = ["data=scenes_tiny", "model/generator=random32", "trainer=cpu", "++trainer.enable_progress_bar=false",
        "trainer.devices=1", "logger=csv", "data.batch_size=2", "data.num_workers=0", "data.eval_masks.count=4",
        "model.map_hidden=32", "model.sml.n_samples=16", "model.sml.period=10", "model.encoder.channels=[8,16,16,16]",
        "model.encoder.bottleneck.depth=1", "model.encoder.heads=2", "loss.terms.adversarial.width=8",
        "trainer.max_steps=2", "trainer.log_every_n_steps=1", "+trainer.limit_val_batches=0",
        "task.validate_before_fit=false", "callbacks.run_estimate=null", "evaluate_after_fit.enabled=false",
        "bottleneck_widths.res=40", "bottleneck_widths.aot=32"]


def _sweep_params(table: str) -> dict[str, str]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"paper/train={table}"], return_hydra_config=True)
    return dict(cfg.hydra.sweeper.params)


def _rows() -> list[tuple[str, str]]:
    return [(t, r.id) for t in SWEPT_TABLES for r in TABLES[t].rows]


def _compose_row(table: str, row: str | None, tmp_path: Path, *extra: str) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        overrides = [f"paper/train={table}", *([f"paper/row={table}/{row}"] if row else []), *TINY,
                     f"paths.output_dir={tmp_path}", f"paths.data_dir={tmp_path}/data", *extra]
        if table != "table8":
            overrides = [o for o in overrides if not o.startswith("bottleneck_widths.")]
        return compose("config", overrides=overrides)


@pytest.mark.parametrize("table", SWEPT_TABLES)
def test_sweep_enumerates_the_rows_of_the_table_in_order(table):
    params = _sweep_params(table)
    assert params["paper/row"].split(",") == [f"{table}/{r}" for r in TABLES[table].row_ids]
    assert params["seed"] == "0"
    for row in TABLES[table].row_ids:  # each row file names its row
        assert OmegaConf.load(CONF / "paper" / "row" / table / f"{row}.yaml").paper_row == row


def test_rows_change_only_the_model_and_tables_share_data_seed_steps_and_evaluation():
    """A row file patches the model (and names itself); a table preset adds nothing but its name, its sweep and
    (table 8) the matched widths to the shared preset: every row of every table trains and evaluates alike."""
    for table, row in _rows():
        patch = OmegaConf.load(CONF / "paper" / "row" / table / f"{row}.yaml")
        if (table, row) == ("table6", "gt"):  # given ground truth by definition: in validation and evaluation too
            assert patch.task == {"module": {"val_guidance": "gt"}} and list(patch.evaluate_after_fit.guidance) == ["gt"]
            patch = {k: v for k, v in patch.items() if k not in ("task", "evaluate_after_fit")}
        assert set(patch) <= {"paper_row", "model"}, (table, row, set(patch))
    for table in (*SWEPT_TABLES, "psp"):
        preset = OmegaConf.load(CONF / "paper" / "train" / f"{table}.yaml")
        assert list(preset.defaults) == (["/paper/train/common", "_self_"] if table != "psp" else
                                         ["/paper/train/common", {"override /model": "psp"}, "_self_"])
        assert set(preset) - {"defaults"} <= {"paper_table", "run_name", "hydra", "bottleneck_widths", "loss",
                                              "evaluate_after_fit"}
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["paper/train=table7", "paper/row=table7/mmt2_adain"])
    assert cfg.evaluate_after_fit.enabled and cfg.trainer.max_steps == 400 and cfg.data.resolution == 64
    assert list(cfg.evaluate_after_fit.buckets) == ["0.1-0.3", "0.4-0.6", "0.7-0.9"] and cfg.seed == 0
    assert cfg.evaluate_after_fit.num_images == 256 and cfg.model.generator.path == "scenes64"
    assert cfg.model.encoder.fusion == "adain" and cfg.model.encoder.guidance == "biased"
    assert cfg.paper_table == "table7" and cfg.paper_row == "mmt2_adain" and cfg.run_name == "paper_table7"


_TRAINED: set[str] = set()


@pytest.mark.parametrize("table,row", _rows(), ids=lambda x: str(x))
def test_row_builds_and_trains_two_steps(table, row, tmp_path):
    cfg = _compose_row(table, row, tmp_path)
    assert cfg.paper_table == table and cfg.paper_row == row
    model = OmegaConf.to_container(cfg.model, resolve=True)
    key = json.dumps(model, sort_keys=True)
    if key in _TRAINED:  # the same model as an earlier row (e.g. "full" of table 5 = "ours" of table 7): built only
        from hydra.utils import instantiate

        instantiate(cfg.model)
        return
    _TRAINED.add(key)
    train(cfg)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_psp_preset_builds_and_trains_two_steps(tmp_path):
    cfg = _compose_row("psp", None, tmp_path)
    assert cfg.model.skip is False and cfg.model.premod is False and cfg.evaluate_after_fit.enabled is False
    train(cfg)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_a_job_evaluates_after_fit_and_marks_its_row(tmp_path):
    cfg = _compose_row("table5", "no_pm", tmp_path, "evaluate_after_fit.enabled=true", "evaluate_after_fit.num_images=4",
                       "evaluate_after_fit.buckets=[0.1-0.3,0.7-0.9]", "evaluate_after_fit.metrics=[ssim,psnr,l1_hole]",
                       "+evaluate_after_fit.batch_size=4", "data.source.num_test=4", "seed=3",
                       f"paths.cache_dir={tmp_path}/cache")
    train(cfg)
    res = json.loads((tmp_path / "evaluation" / "results.json").read_text())
    assert res["buckets"] == ["0.1-0.3", "0.7-0.9"] and res["num_images"] == 4 and res["output"] == "composite"
    assert res["metrics"] == ["ssim", "psnr", "l1_hole", "gap"]
    for b in res["buckets"]:
        row = res["results"]["mminvert"][b]
        assert 0 < row["gap"] < 1 and 0 < row["l1_hole"] < 1  # an untrained model: visible gap on known pixels
    record = json.loads((tmp_path / "row.json").read_text())
    assert record["table"] == "table5" and record["row"] == "no_pm" and record["seed"] == 3
    assert record["results"] == "evaluation/results.json"
    # the evaluation used the run's data and paths (masks the repository does not ship: its cache folder)
    assert (tmp_path / "cache" / "eval_masks" / "32" / "0.70-0.90_spread" / "manifest.json").is_file()
    assert res["dataset"]["count"] == 4 and res["dataset"]["resolution"] == 32


def test_evaluation_config_takes_the_runs_data_and_rejects_unknown_keys(tmp_path):
    cfg = _compose_row("table6", "gt", tmp_path, "evaluate_after_fit.num_images=7", "evaluate_after_fit.output=raw",
                       "+evaluate_after_fit.optim_inversion.steps=9")
    ev = evaluation_config(cfg, tmp_path)
    assert ev.num_images == 7 and ev.output == "raw" and ev.ckpt == str(tmp_path)
    assert ev.output_dir == str(tmp_path / "evaluation") and ev.data.resolution == 32
    assert ev.feature_cache == f"{ev.paths.cache_dir}/feature_cache" and ev.paper_row is None
    # the baseline settings (conf/baseline_settings/) are those evaluate.py composes, and can be overridden
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        composed = compose("evaluate", overrides=["ckpt=x"])
    assert ev.optim_inversion.steps == 9 and composed.optim_inversion.steps == 500
    assert ev.optim_inversion.lr == composed.optim_inversion.lr
    assert ev.magec == composed.magec and ev.contextual_inversion == composed.contextual_inversion
    bad = _compose_row("table6", "gt", tmp_path, "+evaluate_after_fit.num_imgs=7")
    with pytest.raises(ValueError, match="num_imgs"):
        evaluation_config(bad, tmp_path)
    with pytest.raises(ValueError, match="num_imgs"):  # before training: the callback checks its config when built
        EvaluateAfterFit(bad, tmp_path)


def test_only_rank_zero_evaluates_and_completes_the_runs_row(tmp_path, monkeypatch, caplog):
    """EvaluateAfterFit hands evaluate() the run's row job (table, row, seed of the training config, the run folder):
    evaluate() is the one writer of row.json. Other ranks do nothing; a failed fit is not evaluated."""
    from types import SimpleNamespace

    import mminvert.evaluation

    calls = []
    monkeypatch.setattr(mminvert.evaluation, "evaluate", lambda cfg, job=None: calls.append((cfg, job)) or {"ok": 1})
    cfg = _compose_row("table5", "no_pm", tmp_path, "evaluate_after_fit.enabled=true", "seed=3")
    callback = EvaluateAfterFit(cfg, tmp_path)
    callback.on_fit_end(SimpleNamespace(global_rank=1), None)
    callback.on_exception(SimpleNamespace(global_rank=0), None, RuntimeError("boom"))
    assert calls == [] and callback.payload is None and "fit did not finish (RuntimeError)" in caplog.text
    callback.on_fit_end(SimpleNamespace(global_rank=0), None)
    (eval_cfg, job), = calls
    assert eval_cfg.output_dir == str(tmp_path / "evaluation") and eval_cfg.paper_row is None
    assert (job.folder, job.table, job.row, job.seed) == (tmp_path, "table5", "no_pm", 3)
    assert callback.payload == {"ok": 1}
    plain = EvaluateAfterFit(_compose_row("psp", None, tmp_path, "evaluate_after_fit.enabled=true"), tmp_path)
    assert plain.job is None  # not a paper-table row: no completion marker


class FailAtFirstStep(pl.Callback):
    """Raises in the first training step (a fit that does not finish)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        raise RuntimeError("the machine went away")


def test_a_failed_fit_is_not_evaluated_and_not_marked(tmp_path):
    cfg = _compose_row("table5", "no_pm", tmp_path, "evaluate_after_fit.enabled=true", "evaluate_after_fit.num_images=2",
                       "+callbacks.fail._target_=tests.test_paper_rows.FailAtFirstStep")
    with pytest.raises(RuntimeError, match="went away"):
        train(cfg)
    assert not (tmp_path / "evaluation").exists() and not (tmp_path / "row.json").exists()


def test_rows_figure_renders_the_same_inputs_through_each_row(tmp_path):
    """A table-8 sweep of one trained job copied under the three row names: the figure has a line per input and
    a column per row between the masked input and the ground truth."""
    import shutil

    import numpy as np
    from PIL import Image

    from mminvert.evaluation.paper_figure import rows_figure
    from mminvert.evaluation.row_record import write_row_record

    job0 = tmp_path / "sweep" / "0"
    cfg = _compose_row("table8", "acb", job0, "evaluate_after_fit.enabled=true", "evaluate_after_fit.num_images=2",
                       "evaluate_after_fit.buckets=[0.4-0.6]", "evaluate_after_fit.metrics=[psnr]",
                       "+evaluate_after_fit.batch_size=2", "data.source.num_test=2")
    train(cfg)
    for i, row in enumerate(("res", "aot"), start=1):
        shutil.copytree(job0, tmp_path / "sweep" / str(i))
        write_row_record(tmp_path / "sweep" / str(i), "table8", row, 0, "evaluation/results.json")
    out = rows_figure(tmp_path / "sweep", tmp_path / "fig.png", bucket="0.4-0.6", count=2)
    img = np.asarray(Image.open(out))
    assert img.shape == (2 * 32, (1 + 3 + 1) * 32, 3)
    assert np.array_equal(img[:, 32:64], img[:, 64:96])  # the copied rows hold the same weights
    assert not np.array_equal(img[:, :32], img[:, -32:])  # masked input differs from the ground truth
    assert "ACB | RES | AOT" in out.with_suffix(".txt").read_text()
