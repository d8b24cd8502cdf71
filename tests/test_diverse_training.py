"""task=diverse trains stage 1 and stage 2 through train.py's `train`, resumes exactly, and its checkpoints carry the
architecture that rebuilds the model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from mminvert.diverse import DiverseInversion
from mminvert.runner import train
from tests.test_inpainting_training import CONF, losses_by_step, read_metrics

BASE = ["experiment=diverse_tiny", "++trainer.enable_progress_bar=false", "trainer.accelerator=cpu", "trainer.devices=1",
        "logger=csv", "trainer.log_every_n_steps=1"]


def compose_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[*BASE, f"paths.output_dir={tmp_path}", f"paths.data_dir={tmp_path}/data",
                                            *overrides])


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_stage_1_trains_validates_and_checkpoints_its_architecture(tmp_path):
    train(compose_cfg(tmp_path, "trainer.max_steps=2", "trainer.val_check_interval=2"))
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2 and ckpt["mminvert_architecture"]["model_class"] == "DiverseInversion"
    rows = read_metrics(tmp_path)
    assert all(k in rows[0] for k in ("train/loss_rg", "train/loss_rr", "train/loss_adv", "train/loss_d_real"))
    val = [r for r in rows if r.get("val/psnr")]
    assert val and float(val[-1]["val/diversity_l1"]) >= 0
    model = DiverseInversion.from_architecture(ckpt["mminvert_architecture"])
    model.load_state_dict({k[6:]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")})


def test_stage_2_from_stage_1_trains_only_the_skip_encoder(tmp_path):
    one = tmp_path / "one"
    train(compose_cfg(one, "trainer.max_steps=2", "+trainer.limit_val_batches=0"))
    two = tmp_path / "two"
    train(compose_cfg(two, "trainer.max_steps=2", "+trainer.limit_val_batches=0", "model.stage=2",
                      f"init_from={one}/checkpoints/last.ckpt"))
    a, b = _weights(one / "checkpoints" / "last.ckpt"), _weights(two / "checkpoints" / "last.ckpt")
    for k in a:
        if k.startswith(("model.encoder.", "model.mixing.", "model.generator.")):
            assert torch.equal(a[k], b[k]), k  # frozen in stage 2
    heads = [k for k in a if k.startswith("model.skip_encoder.") and "heads" in k]
    assert heads and any(not torch.equal(a[k], b[k]) for k in heads)  # S trains
    assert torch.load(two / "checkpoints" / "last.ckpt", weights_only=True)["mminvert_architecture"]["model"]["stage"] == 2


def _resume_is_exact(tmp_path: Path, *extra: str) -> None:
    common = ["+trainer.limit_val_batches=0", "callbacks.checkpoint.every_n_steps=2", *extra]
    full, part = tmp_path / "full", tmp_path / "part"
    train(compose_cfg(full, *common, "trainer.max_steps=4"))
    train(compose_cfg(part, *common, "trainer.max_steps=2"))
    train(compose_cfg(part, *common, "trainer.max_steps=4", f"ckpt_path={part}/checkpoints/last.ckpt"))
    a, b = losses_by_step(full), losses_by_step(part)
    assert set(a) == set(b) == set(range(4))
    for step in range(4):
        assert a[step] == b[step], (step, a[step], b[step])  # bit-identical on CPU
    wa, wb = _weights(full / "checkpoints" / "last.ckpt"), _weights(part / "checkpoints" / "last.ckpt")
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_stage_1_resumes_exactly(tmp_path):
    _resume_is_exact(tmp_path)


def test_stage_2_resumes_exactly(tmp_path):
    one = tmp_path / "one"
    train(compose_cfg(one, "trainer.max_steps=1", "+trainer.limit_val_batches=0"))
    _resume_is_exact(tmp_path / "two", "model.stage=2", f"init_from={one}/checkpoints/last.ckpt")


def test_real_data_ablation_trains_on_the_data_modules_images(tmp_path):
    train(compose_cfg(tmp_path, "trainer.max_steps=2", "+trainer.limit_val_batches=0", "task.module.data_source=real",
                      "model.mixing.gate=layer"))
    rows = read_metrics(tmp_path)
    assert "train/loss_rec" in rows[0] and "train/loss_rr" not in rows[0]


@pytest.mark.parametrize("row", ["real_gate", "two_path_no_gate", "two_path_gate"])
def test_paper_ablation_rows_build_and_train_one_step(row, tmp_path):
    cfg = compose_cfg(tmp_path, f"paper/row=diverse/{row}", "trainer.max_steps=1", "+trainer.limit_val_batches=0")
    assert cfg.paper_row == row
    train(cfg)
    arch = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["mminvert_architecture"]
    assert arch["model"]["mixing"]["gate"] == ("none" if row == "two_path_no_gate" else "layer")


def test_stage_2_ablation_row_names_its_stage_1_run():
    from omegaconf.errors import InterpolationToMissingValueError

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["paper/train=diverse", "paper/row=diverse/stage2"])
    assert cfg.model.stage == 2 and cfg.paper_table == "diverse"
    with pytest.raises(InterpolationToMissingValueError, match="stage1_checkpoint"):
        _ = cfg.init_from


@pytest.mark.slow
def test_ddp_two_cpu_processes_draw_different_data_and_agree_on_weights(tmp_path):
    from tests.test_inpainting_training import REPO, _run

    r = _run([str(REPO / "train.py"), *BASE, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
              "trainer.max_steps=2", "+trainer.limit_val_batches=0", f"hydra.run.dir={tmp_path}",
              f"paths.data_dir={tmp_path}/data"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    streams = ckpt["diverse_rng"]["streams"]
    assert len(streams) == 2 and not torch.equal(streams[0]["cpu"], streams[1]["cpu"])  # one stream per rank


def test_trains_without_real_data(tmp_path):
    train(compose_cfg(tmp_path, "data.real=null", "trainer.max_steps=2"))
    rows = read_metrics(tmp_path)
    assert not any(r.get("val/psnr") for r in rows) and losses_by_step(tmp_path, "train/loss_rg")


def test_checkpoint_loads_for_inference_with_several_fills_and_exports(tmp_path):
    import numpy as np

    from mminvert.inference import Inpainter
    from mminvert.inference.bundle import load_diverse

    train(compose_cfg(tmp_path, "trainer.max_steps=1", "+trainer.limit_val_batches=0"))
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert isinstance(load_diverse(ckpt), DiverseInversion)
    inp = Inpainter.from_checkpoint(ckpt, num_samples=3, seed=5)
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.full((32, 32), 255, np.uint8)
    mask[8:24, 8:24] = 0
    fills = inp(img, mask)
    assert len(fills) == 3 and all(np.array_equal(f[mask > 127], img[mask > 127]) for f in fills)
    assert not np.array_equal(fills[0], fills[1])
    bundle = inp.export(tmp_path / "bundle.pt")
    again = Inpainter.from_checkpoint(bundle, num_samples=3, seed=5)(img, mask)
    assert all(np.array_equal(a, b) for a, b in zip(fills, again))  # same seed, same fills, through the bundle
