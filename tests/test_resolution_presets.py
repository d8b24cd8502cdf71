"""Presets sized by resolution: gan=small32..small256 widths, the R1 heuristic, the training FID off on CPU
(enabled=auto), the thread choice, and figures enlarged to >= 256 px per image."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from mminvert.runner.callbacks import FIDCallback
from mminvert.tasks.stylegan2 import r1_gamma_heuristic
from mminvert.utils import threads
from mminvert.utils.figures import readable

CONF = Path(__file__).resolve().parents[1] / "conf"


def _compose(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=["task=stylegan2", *overrides])


@pytest.mark.parametrize("res,top", [(32, 64), (64, 64), (128, 32), (256, 16)])
def test_small_presets_scale_widths_with_resolution(res, top):
    cfg = _compose(f"gan=small{res}")
    assert cfg.data.resolution == res and cfg.task.module.r1_gamma is None  # heuristic, not a fixed value
    with torch.device("meta"):
        g = instantiate(cfg.gan.generator)
    assert g.resolution == res and g.channels[res] == top and g.channels[4] == 64


def test_r1_gamma_follows_the_heuristic_unless_set():
    assert r1_gamma_heuristic(64, 16) == pytest.approx(0.0512) and r1_gamma_heuristic(32, 16) == pytest.approx(0.0128)
    assert _compose("gan=scenes64", "gan.generator.resolution=32").task.module.r1_gamma is None  # follows R
    assert _compose("experiment=stylegan2_scenes64").task.module.r1_gamma == 0.05  # the bundled generator's value
    assert _compose("gan=small32", "+gan.training.r1_gamma=0.3").task.module.r1_gamma == 0.3


def test_training_fid_is_off_on_cpu_by_default_and_says_what_it_would_cost(caplog):
    assert _compose().callbacks.fid.enabled == "auto"

    class Trainer:
        is_global_zero = True

    module = torch.nn.Linear(1, 1)
    module.device = torch.device("cpu")
    fid = FIDCallback(every_n_steps=5000, num_images=10000, enabled="auto")
    with caplog.at_level(logging.WARNING):
        fid.on_fit_start(Trainer(), module)
    assert fid.metric is None and "off on CPU" in fid.skip_reason and "about 8 min" in caplog.text
    with pytest.raises(ValueError, match="true, false or auto"):
        FIDCallback(enabled="sometimes")


def test_threads_one_per_process_when_processes_share_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert threads.choose_threads("auto", 1)[0] == 2          # idle: every core
    assert threads.choose_threads("auto", 2)[0] == 1          # two ranks on two cores
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    n, why = threads.choose_threads("auto", 1)                 # another job on one of the two cores
    assert n == 1 and "load 1 from other work" in why
    monkeypatch.setattr(threads, "_cores", lambda: 16)
    assert threads.choose_threads("auto", 2)[0] == 7          # (16 - 1) // 2
    assert threads.choose_threads(3, 1) == (3, "threads=3")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert threads.choose_threads("auto", 1) == (4, "OMP_NUM_THREADS=4")
    with pytest.raises(ValueError, match="threads must be auto or a number"):
        threads.choose_threads(0)


def test_figures_are_enlarged_to_256_px_per_image():
    grid = np.arange(2 * 32 * 3 * 32 * 3).reshape(2 * 32, 3 * 32, 3).astype(np.uint8)  # 2 x 3 tiles of 32 px
    big = readable(grid, 32)
    assert big.shape == (2 * 256, 3 * 256, 3) and np.array_equal(big[::8, ::8], grid)  # nearest: pixels repeated
    assert readable(grid, 100).shape == (2 * 32 * 3, 3 * 32 * 3, 3)  # ceil(256 / 100) = 3
    assert readable(grid, 256) is grid
