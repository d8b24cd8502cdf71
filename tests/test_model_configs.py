"""Every model variant config instantiates and runs on a 64 px batch; the 256 px paper preset builds."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mminvert.inversion import MMInvertFill

CONF = Path(__file__).resolve().parents[1] / "conf"


def _model(*overrides: str) -> MMInvertFill:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["task=inpainting", *overrides])
    return instantiate(cfg.model)


def _batch(r: int, k: int = 11, b: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return dict(image=torch.rand(b, 3, r, r, generator=g) * 2 - 1, mask=(torch.rand(b, 1, r, r, generator=g) > 0.5).float(),
                seg=torch.randint(0, k, (b, r, r), generator=g), edge=(torch.rand(b, 1, r, r, generator=g) > 0.9).float())


@pytest.mark.parametrize("variant", ["mminvertfill", "invertfill", "psp"])
def test_variant_configs_run_on_64px(variant):
    model = _model(f"model={variant}", "model/generator=random64")
    assert model.generator.resolution == 64 and not any(p.requires_grad for p in model.generator.parameters())
    with torch.no_grad():
        out = model(_batch(64))
    assert out["image"].shape == (2, 3, 64, 64) and out["ws"].shape == (2, model.generator.num_ws, 128)
    assert (model.skip is None) == (variant == "psp") and (model.premod is None) == (variant == "psp")
    assert model.encoder.use_aux == (variant == "mminvertfill")


@pytest.mark.parametrize("switch", ["model.encoder.fusion=spade", "model.encoder.guidance=biased",
                                    "model.encoder.bottleneck.type=aot", "model.sml.tau=0", "model.skip=false"])
def test_ablation_switches(switch):
    model = _model("model/generator=random64", switch, "model.encoder.bottleneck.depth=1")
    with torch.no_grad():
        assert model(_batch(64))["composite"].shape == (2, 3, 64, 64)


def test_paper_preset_builds_at_256px():
    model = _model("model=mminvertfill_256", "model/generator=random256")
    assert model.generator.resolution == 256 and model.generator.num_ws == 14
    assert model.encoder.config["channels"] == [64, 128, 256, 256] and model.encoder.bottleneck.depth == 8
    n = sum(p.numel() for p in model.trainable_parameters())
    assert 50e6 < n < 150e6  # 85.8 M, see docs/performance.md
