"""The synthesis network's (add, mult) injection: G_f ← G_f + G_f ⊙ mult + add, and MMInvertFill's additive F&W+
path unchanged by it."""
from __future__ import annotations

import pytest
import torch

from mminvert.inversion import MMInvertFill
from mminvert.stylegan2 import FeatureModulation, StyleGAN2Generator, inject

CHANNELS = {4: 32, 8: 32, 16: 16, 32: 16}


def _generator() -> StyleGAN2Generator:
    torch.manual_seed(0)
    return StyleGAN2Generator(resolution=32, z_dim=32, w_dim=32, mapping_layers=2, channels=CHANNELS).freeze()


def _ws(g: StyleGAN2Generator, b: int = 2) -> torch.Tensor:
    return g.mapping(torch.randn(b, g.z_dim, generator=torch.Generator().manual_seed(1))).unsqueeze(1).repeat(
        1, g.num_ws, 1)


def test_inject_formula_equals_hand_computation():
    gen = torch.Generator().manual_seed(0)
    x, add, mult = (torch.randn(2, 4, 8, 8, generator=gen) for _ in range(3))
    torch.testing.assert_close(inject(x, FeatureModulation(add, mult)), x + x * mult + add)
    torch.testing.assert_close(inject(x, FeatureModulation(add=add)), x + add)
    torch.testing.assert_close(inject(x, FeatureModulation(mult=mult)), x + x * mult)
    assert torch.equal(inject(x, add), x + add)  # a tensor is the additive F&W+ path


def test_zero_add_and_mult_leave_the_synthesis_exactly_unchanged():
    g = _generator()
    ws = _ws(g)
    plain = g.synthesis(ws)
    zeros = {r: FeatureModulation(torch.zeros(2, CHANNELS[r], r, r), torch.zeros(2, CHANNELS[r], r, r))
             for r in (8, 16, 32)}
    assert torch.equal(g.synthesis(ws, features=zeros), plain)


def test_mult_changes_the_output_and_a_wrong_shape_is_named():
    g = _generator()
    ws = _ws(g)
    mult = {16: FeatureModulation(mult=torch.full((2, 16, 16, 16), 0.5))}
    assert not torch.allclose(g.synthesis(ws, features=mult), g.synthesis(ws))
    with pytest.raises(ValueError, match="mult at resolution 16"):
        g.synthesis(ws, features={16: FeatureModulation(mult=torch.zeros(2, 8, 16, 16))})


def test_mminvertfill_outputs_are_bit_identical_through_the_add_path():
    """MMInvertFill passes plain tensors: the same as FeatureModulation(add=f), bit for bit."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from tests.test_inpainting_training import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=inpainting_tiny"])
    torch.manual_seed(0)
    model: MMInvertFill = instantiate(cfg.model).eval()
    for conv in model.skip.proj:  # non-zero skip features, so the injection matters
        torch.nn.init.normal_(conv.weight)
        torch.nn.init.normal_(conv.bias)
    gen = torch.Generator().manual_seed(1)
    batch = {"image": torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1,
             "mask": (torch.rand(2, 1, 32, 32, generator=gen) > 0.5).float(),
             "seg": torch.randint(0, 11, (2, 32, 32), generator=gen),
             "edge": (torch.rand(2, 1, 32, 32, generator=gen) > 0.8).float()}
    batch["mask_seg"] = batch["mask_edge"] = batch["mask"]
    captured = {}
    synth = model.generator.synthesis
    original = synth.forward

    def record(ws, noise_mode="const", features=None):
        captured.update(ws=ws, noise_mode=noise_mode, features=features)
        return original(ws, noise_mode=noise_mode, features=features)

    synth.forward = record
    with torch.no_grad():
        out = model(batch)
        synth.forward = original
        feats = captured["features"]
        assert all(isinstance(f, torch.Tensor) for f in feats.values())
        as_pairs = {r: FeatureModulation(add=f) for r, f in feats.items()}
        with_pairs = synth(captured["ws"], noise_mode=captured["noise_mode"], features=as_pairs)
        without = synth(captured["ws"], noise_mode=captured["noise_mode"])
    assert torch.equal(out["image"], with_pairs)
    assert not torch.allclose(out["image"], without)  # the features did take part
