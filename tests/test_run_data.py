"""Which data set evaluate.py scores (mminvert/evaluation/run_data.py), where evaluation masks are made
(mminvert/data/eval_mask_roots.py), and `mminvert data check` (mminvert/data/check.py), without training."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from PIL import Image

from mminvert.data import EvalMaskSet, eval_mask_set
from mminvert.data.check import main as check_main
from mminvert.data.run_data import DATA_RECORD_KEY, data_record, read_data_record
from mminvert.evaluation.run_data import select_data

CONF = Path(__file__).resolve().parents[1] / "conf"
REPO = CONF.parent


def _compose(name: str, *overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(name, overrides=list(overrides))


def _folder_record(root: Path) -> dict:
    cfg = _compose("config", "data=folder", f"data.source.root={root}", "data.num_classes=0")
    return data_record(cfg.data, name="mine")


def test_evaluation_follows_the_recorded_data_set(tmp_path, caplog):
    record = _folder_record(tmp_path / "images")
    cfg = _compose("evaluate", "ckpt=x")
    assert cfg.get("data") is None  # no data= : follow the run
    with caplog.at_level(logging.WARNING):
        choice = select_data(cfg, {DATA_RECORD_KEY: record}, tmp_path / "x.ckpt")
    assert cfg.data.source.root == str(tmp_path / "images") and cfg.data.source._target_.endswith("FolderSource")
    assert choice.chosen_by == "checkpoint" and not choice.warnings and not caplog.records
    assert choice.first_line(5, 32).startswith(f"evaluating on mine (FolderSource {tmp_path}/images), test split, "
                                               "5 images at 32 px")


def test_a_data_override_that_differs_warns_and_keys_without_data_patch_the_run(tmp_path):
    record = _folder_record(tmp_path / "images")
    cfg = _compose("evaluate", "ckpt=x", "data=scenes")
    choice = select_data(cfg, {DATA_RECORD_KEY: record}, tmp_path / "x.ckpt")
    assert cfg.data.source._target_.endswith("ScenesSource") and choice.chosen_by == "data="
    assert len(choice.warnings) == 1 and "differs from the data this checkpoint was trained on (mine" in choice.warnings[0]
    cfg = _compose("evaluate", "ckpt=x", "+data.source.test_count=7")  # Hydra's own hint for data.* without data=
    choice = select_data(cfg, {DATA_RECORD_KEY: record}, tmp_path / "x.ckpt")
    assert cfg.data.source.root == str(tmp_path / "images") and cfg.data.source.test_count == 7
    assert "with data.source.test_count=7" in choice.description and not choice.warnings


def test_old_files_fall_back_to_the_run_folder_then_the_default_with_a_warning(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"data": _folder_record(tmp_path / "imgs")["config"]}), run / "config.yaml")
    assert read_data_record({}, run / "checkpoints" / "last.ckpt")["config"]["source"]["root"] == str(tmp_path / "imgs")
    cfg = _compose("evaluate", "ckpt=x")
    choice = select_data(cfg, {"state_dict": {}}, run / "checkpoints" / "last.ckpt")
    assert choice.chosen_by == "run_config" and cfg.data.source.root == str(tmp_path / "imgs")
    cfg = _compose("evaluate", "ckpt=x")
    choice = select_data(cfg, {"state_dict": {}}, tmp_path / "loose.pt")  # no record, no run folder
    assert choice.chosen_by == "default" and cfg.data.source._target_.endswith("ScenesSource")
    assert "does not record the data set it was trained on" in choice.warnings[0]
    assert OmegaConf.to_container(cfg.data, resolve=True)["eval_masks"]["resolution"] == 64  # moved, still resolves


def test_committed_mask_sets_stay_and_new_ones_go_to_the_cache(tmp_path):
    committed = REPO / "data" / "eval_masks"
    shipped = eval_mask_set(committed, 64, "0.4-0.6", count=256, cache_root=tmp_path / "cache")
    assert shipped.dir == committed / "64" / "0.40-0.60"
    for res, count in ((32, 4), (64, 300)):  # another resolution; more masks than the committed set holds
        made = eval_mask_set(committed, res, "0.4-0.6", count=count, cache_root=tmp_path / "cache")
        assert made.dir == tmp_path / "cache" / str(res) / "0.40-0.60"
    made = eval_mask_set(committed, 64, "0.4-0.6", count=300, cache_root=tmp_path / "cache").ensure()
    assert np.array_equal(made.load(5), EvalMaskSet(committed, 64, "0.4-0.6", count=256).load(5))  # same masks


def _labelled_folder(root: Path, bad_id: int | None = None) -> None:
    for i in range(6):
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "labels").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((24, 20, 3), 40 * i, np.uint8)).save(root / "images" / f"{i}.png")
        labels = np.zeros((24, 20), np.uint8)
        labels[12:] = 1
        labels[0, 0] = 255
        if bad_id is not None and i == 4:
            labels[5, 5] = bad_id
        Image.fromarray(labels).save(root / "labels" / f"{i}.png")


def test_data_check_reports_counts_sizes_and_label_ids(tmp_path, capsys):
    _labelled_folder(tmp_path / "ok")
    args = ["data=folder", f"data.source.root={tmp_path}/ok/images", f"data.source.labels_root={tmp_path}/ok/labels",
            "data.num_classes=2", "data.source.val_count=1", "data.source.test_count=1"]
    assert check_main(args) == 0
    out = capsys.readouterr().out
    assert "train: 4 images; sizes (W x H) 20x24 (4); label ids 0..1, 255 (ignore) in 4 images" in out
    assert "test: 1 images" in out and out.rstrip().endswith("OK: ready to train")
    _labelled_folder(tmp_path / "bad", bad_id=7)
    assert check_main([a.replace("/ok/", "/bad/") for a in args]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM: val split, " in out and "4.png: label ids [7] outside 0..1" in out
    assert check_main([*args[:-2], "data.source.val_count=3", "data.source.test_count=3"]) == 1
    assert "val_count=3 + test_count=3" in capsys.readouterr().out


@pytest.mark.parametrize("preset", ["folder_template"])
def test_the_template_names_what_to_edit(preset):
    text = (CONF / "data" / f"{preset}.yaml").read_text()
    assert text.count("EDIT") >= 5 and "relative to `root`" in text and "hydra.searchpath" in text


def test_records_written_before_the_restructuring_point_to_the_moved_classes():
    """A diverse checkpoint written before GeneratedDataModule moved to mminvert.data still names a loadable class."""
    from hydra.utils import get_class

    from mminvert.data.run_data import read_data_record

    old = {"mminvert_data": {"name": "generated", "resolution": 32, "num_classes": 0, "class_names": [],
                             "config": {"_target_": "mminvert.diverse.GeneratedDataModule", "resolution": 32,
                                        "real": {"_target_": "mminvert.data.InpaintingDataModule"}}}}
    record = read_data_record(old, "old.ckpt")
    assert record["config"]["_target_"] == "mminvert.data.GeneratedDataModule"
    assert record["config"]["real"]["_target_"] == "mminvert.data.InpaintingDataModule"
    assert get_class(record["config"]["_target_"]).__name__ == "GeneratedDataModule"
    assert old["mminvert_data"]["config"]["_target_"] == "mminvert.diverse.GeneratedDataModule"  # input unchanged


def test_a_diverse_run_is_scored_on_its_real_data(tmp_path):
    """task=diverse records a GeneratedDataModule; evaluation scores the test split of its real images."""
    record = data_record(_compose("config", "task=diverse").data, name="generated")
    cfg = _compose("evaluate", "ckpt=x")
    select_data(cfg, {DATA_RECORD_KEY: record}, tmp_path / "x.ckpt")
    assert cfg.data._target_.endswith("InpaintingDataModule") and cfg.data.source._target_.endswith("ScenesSource")
    no_real = {**record, "config": {**record["config"], "real": None}}
    with pytest.raises(ValueError, match="generated images only"):
        select_data(_compose("evaluate", "ckpt=x"), {DATA_RECORD_KEY: no_real}, tmp_path / "x.ckpt")
