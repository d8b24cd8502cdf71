"""The discriminator shipped with the bundled scenes64 generator, its loader, and its use as the contextual
inversion baseline's default prior."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from mminvert.evaluation import evaluate
from mminvert.io import (
    CheckpointError,
    bundled_discriminator_names,
    bundled_generator_name,
    load_discriminator,
    load_generator,
    save_discriminator,
    save_stylegan2,
)
from mminvert.tasks.stylegan2_discriminator import discriminator_from_preset, train_discriminator

REPO = Path(__file__).resolve().parents[1]
ASSET = REPO / "mminvert" / "assets" / "scenes64_discriminator.pt"


def test_bundled_discriminator_loads_with_the_preset_architecture():
    assert "scenes64" in bundled_discriminator_names()
    D = load_discriminator("scenes64")
    preset = discriminator_from_preset("scenes64")
    assert D.config == preset.config and not D.training
    info = torch.load(ASSET, weights_only=True)["training"]
    assert info["jointly_trained"] is False and info["generator"] == "scenes64" and info["steps"] > 0
    assert {"accuracy", "logit_gap"} <= set(info["held_out"]) and info["held_out"]["num_images"] >= 256
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    assert D(x).shape == (4, 1) and torch.isfinite(D(x)).all()


def test_discriminator_file_round_trips(tmp_path):
    D = load_discriminator("scenes64")
    path = save_discriminator(tmp_path / "d.pt", D, training={"steps": 1})
    again = load_discriminator(path)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(again(x), D(x), rtol=0, atol=0)
    assert torch.load(path, weights_only=True)["training"] == {"steps": 1}


def test_bad_discriminator_files_are_clear_errors(tmp_path):
    G = load_generator("scenes64")
    save_stylegan2(tmp_path / "g_only.pt", G)
    with pytest.raises(CheckpointError, match="g_only.pt: mminvert checkpoint has no discriminator"):
        load_discriminator(tmp_path / "g_only.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_discriminator(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match=r"no such file; bundled names: \['scenes64'\]"):
        load_discriminator("scenes65")


def test_bundled_generator_is_recognised_also_as_a_float16_copy(tiny_generator):
    assert bundled_generator_name(load_generator("scenes64")) == "scenes64"
    assert bundled_generator_name(load_generator("scenes64").half()) == "scenes64"  # the app bundle stores float16
    changed = load_generator("scenes64")
    with torch.no_grad():
        next(iter(changed.parameters())).mul_(1.01)
    assert bundled_generator_name(changed) is None
    assert bundled_generator_name(tiny_generator) is None


def test_training_moves_d_towards_separating_reals_from_fakes(tiny_generator):
    """A few steps on a toy task: 'reals' are a constant grey, G's samples are not; D learns to tell them apart."""
    torch.manual_seed(0)
    from mminvert.stylegan2 import StyleGAN2Discriminator

    D = StyleGAN2Discriminator(32, channels={4: 16, 8: 16, 16: 16, 32: 16}, mbstd_group_size=4)

    def reals(n: int, rng: np.random.Generator) -> torch.Tensor:
        return torch.full((n, 3, 32, 32), float(rng.uniform(-0.1, 0.1)))

    G_before = {k: v.clone() for k, v in tiny_generator.state_dict().items()}
    result = train_discriminator(tiny_generator, D, reals, steps=30, batch_size=4, lr=0.002, r1_gamma=0.1,
                                 d_reg_interval=4, log_every=10)
    assert result["steps"] == 30 and len(result["history"]) == 3
    assert result["history"][-1]["loss_d_real"] + result["history"][-1]["loss_d_fake"] < \
        result["history"][0]["loss_d_real"] + result["history"][0]["loss_d_fake"]
    assert all(torch.equal(v, G_before[k]) for k, v in tiny_generator.state_dict().items())  # G frozen
    assert not D.training and not any(p.requires_grad for p in D.parameters())


def test_contextual_inversion_uses_the_bundled_d_for_the_bundled_generator(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("evaluate", overrides=[f"ckpt={REPO / 'mminvert/assets/scenes64_inpainter.pt'}",
                                             f"output_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path / 'data'}",
                                             "num_images=2", "data=scenes", "data.source.num_test=2", "batch_size=2",
                                             "buckets=[0.4-0.6]", "metrics=[psnr]", "baselines=[contextual_inversion]",
                                             "contextual_inversion.steps=2", "feature_cache=null"])
    res = evaluate(cfg)
    assert "contextual_inversion prior" not in res["skipped"]
    assert "bundled scenes64 discriminator" in res["notes"]["contextual_inversion"]
    assert "bundled scenes64 discriminator" in (tmp_path / "out" / "report.md").read_text()
