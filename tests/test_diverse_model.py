"""DiverseInversion: the gate formula, the two paths, the known-pixel loss, stage 2 starting as stage 1, sampling."""
from __future__ import annotations

import pytest
import torch

from mminvert.diverse import DiverseInversion, DiverseLoss, MixingNetwork
from mminvert.stylegan2 import StyleGAN2Generator
from mminvert.tasks import DiverseModule

CHANNELS = {4: 32, 8: 32, 16: 16, 32: 16}
NARROW = dict(encoder=dict(channels=[8, 8, 16, 16], fpn_width=16, map_hidden=16), mixing=dict(hidden=16),
              skip_encoder=dict(stem=8, widths=[8, 8, 8]))


def _model(stage: int = 1, gate: str = "layer", seed: int = 0) -> DiverseInversion:
    torch.manual_seed(seed)
    g = StyleGAN2Generator(resolution=32, z_dim=32, w_dim=32, mapping_layers=2, channels=CHANNELS)
    cfg = {**NARROW, "mixing": {**NARROW["mixing"], "gate": gate}}
    return DiverseInversion(g, stage=stage, **cfg).eval()


def _batch(b: int = 2, seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, 1, 32, 32)
    mask[:, :, 8:24, 6:20] = 0
    return {"image": torch.rand(b, 3, 32, 32, generator=gen) * 2 - 1, "mask": mask}


def _randomise(module: torch.nn.Module, seed: int = 3) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)


@pytest.mark.parametrize("gate,gate_dim", [("layer", 1), ("channel", 32)])
def test_gate_formula_equals_hand_computation(gate, gate_dim):
    net = MixingNetwork(num_ws=8, w_dim=32, hidden=16, gate=gate)
    _randomise(net)  # the zero-initialised output layer would make the gate trivially 1/2
    gen = torch.Generator().manual_seed(0)
    w_enc, w_rand = torch.randn(2, 8, 32, generator=gen), torch.randn(2, 8, 32, generator=gen)
    out = net(w_enc, w_rand)
    assert out["gate"].shape == (2, 8, gate_dim)
    # the per-layer FC block by hand: layer l reads [W^enc_l, W^rand_l]
    h = torch.cat([w_enc, w_rand], 2)
    h = torch.nn.functional.leaky_relu(torch.stack([h[:, l] @ net.hidden[0].weight[l] + net.hidden[0].bias[l]
                                                    for l in range(8)], 1), 0.2)
    h = torch.stack([h[:, l] @ net.out.weight[l] + net.out.bias[l] for l in range(8)], 1)
    w_comb, g = h[..., :32] + w_enc, h[..., 32:]
    s = 1 / (1 + torch.exp(-g))
    torch.testing.assert_close(out["w_comb"], w_comb)
    torch.testing.assert_close(out["gate"], g)
    torch.testing.assert_close(out["ws"], s * w_comb + (1 - s) * w_rand)


def test_no_gate_gives_w_comb_and_the_initial_gate_is_one_half():
    net = MixingNetwork(num_ws=8, w_dim=32, gate="none")
    w = torch.randn(2, 8, 32)
    out = net(w, torch.randn(2, 8, 32))
    assert out["gate"] is None and torch.equal(out["ws"], out["w_comb"])
    fresh = MixingNetwork(num_ws=8, w_dim=32)
    w_rand = torch.randn(2, 8, 32)
    torch.testing.assert_close(fresh(w, w_rand)["ws"], 0.5 * w + 0.5 * w_rand)  # W^comb = W^enc, σ(0) = 1/2


def test_path_a_with_z_r_equal_to_z_g_equals_path_b():
    model = _model()
    _randomise(model.mixing)
    module = DiverseModule(model, DiverseLoss(), optimizer=torch.optim.Adam, mask_generator=lambda *a: None)
    batch = _batch()
    z_g = torch.randn(2, 32)
    with torch.no_grad():
        out_a, out_b = module.two_paths(batch["image"], batch["mask"], z_g, z_g.clone())
        _, out_other = module.two_paths(batch["image"], batch["mask"], z_g, torch.randn(2, 32))
    for key in ("image", "composite", "ws"):
        assert torch.equal(out_a[key], out_b[key]), key
    assert not torch.allclose(out_a["image"], out_other["image"])


def test_known_pixel_loss_ignores_the_hole():
    loss = DiverseLoss(perceptual={"_target_": "mminvert.losses.PerceptualLoss", "backbone": "vgg",
                                   "pretrained": False, "weight": 1.0})
    batch = _batch()
    real, mask = batch["image"], batch["mask"]
    pred = torch.rand_like(real) * 2 - 1
    changed = pred.clone()
    changed[:, :, 8:24, 6:20] = torch.rand(2, 3, 16, 14) * 2 - 1  # only hole pixels
    a, b = loss.known_pixels(pred, real, mask), loss.known_pixels(changed, real, mask)
    assert torch.equal(a, b) and a > 0
    assert not torch.equal(loss.reconstruction(pred, real), loss.reconstruction(changed, real))
    known = pred.clone()
    known[:, :, 0, 0] += 0.5  # a known pixel does count
    assert not torch.equal(loss.known_pixels(known, real, mask), a)


def test_stage_2_at_initialisation_equals_stage_1_exactly():
    one = _model(stage=1)
    _randomise(one.encoder)
    _randomise(one.mixing)
    two = DiverseInversion.from_architecture({**one.architecture(), "model": {**one.architecture()["model"], "stage": 2}})
    two.load_state_dict(one.state_dict())
    two.eval()
    batch, z = _batch(), torch.randn(2, 32)
    with torch.no_grad():
        a, b = one(batch, z=z), two(batch, z=z)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["composite"], b["composite"])
    assert torch.equal(b["stage1_image"], a["image"])
    # the skip encoder does act once trained: random heads change the output
    _randomise(two.skip_encoder)
    with torch.no_grad():
        assert not torch.allclose(two(batch, z=z)["image"], a["image"])
    assert {id(p) for p in two.trainable_parameters()} == {id(p) for p in two.skip_encoder.parameters()}
    assert not any(p.requires_grad for p in [*two.encoder.parameters(), *two.mixing.parameters()])


def test_sample_is_deterministic_per_seed_and_differs_across_seeds():
    model = _model()
    _randomise(model.mixing)
    batch = _batch()
    a, b = model.sample(batch, num_samples=3, seed=7), model.sample(batch, num_samples=3, seed=7)
    c = model.sample(batch, num_samples=3, seed=8)
    assert a["image"].shape == (2, 3, 3, 32, 32) and a["ws"].shape == (2, 3, model.generator.num_ws, 32)
    for key in ("image", "composite", "ws"):
        assert torch.equal(a[key], b[key])
    assert not torch.allclose(a["image"], c["image"])
    assert not torch.allclose(a["image"][:, 0], a["image"][:, 1])  # fills of one input differ
    known = batch["mask"].bool().expand(-1, 3, -1, -1)
    assert torch.equal(a["composite"][:, 1][known], batch["image"][known])


def test_edit_moves_w_out_before_synthesis():
    model = _model()
    batch, z = _batch(), torch.randn(2, 32)
    offset = torch.zeros(model.generator.num_ws, 32)
    offset[:, 0] = 1.0
    with torch.no_grad():
        plain = model(batch, z=z)
        moved = model(batch, z=z, ws_edit=offset)
        same = model(batch, z=z, ws_edit=lambda ws: ws + offset)
    torch.testing.assert_close(moved["ws"], plain["ws"] + offset)
    assert torch.equal(moved["image"], same["image"]) and not torch.allclose(moved["image"], plain["image"])


def test_architecture_round_trip_and_bad_input():
    model = _model(gate="channel")
    arch = model.architecture()
    assert arch["model_class"] == "DiverseInversion" and DiverseInversion.supports_sampling
    again = DiverseInversion.from_architecture(arch)
    again.load_state_dict(model.state_dict())  # strict: the same keys, the generator included
    assert any(k.startswith("generator.") for k in model.state_dict())
    with pytest.raises(ValueError, match="32x32"):
        model({"image": torch.zeros(1, 3, 16, 16), "mask": torch.ones(1, 1, 16, 16)})
    with pytest.raises(ValueError, match="gate must be"):
        MixingNetwork(8, 32, gate="pixel")
