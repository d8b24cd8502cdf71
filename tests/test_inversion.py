"""Inversion parts (map2style, pre-modulation, SML, skips) and the assembled MMInvertFill model."""
import pytest
import torch

from mminvert.encoder import MultiModalGuidedEncoder
from mminvert.inversion import (
    MapToVectors,
    MMInvertFill,
    PreModulation,
    SkipInjection,
    SoftMeanLatent,
    instance_norm_codes,
    style_groups,
)
from mminvert.stylegan2 import StyleGAN2Generator


def test_style_groups_follow_psp_split():
    assert style_groups(14) == (3, 4, 7) and style_groups(10) == (3, 4, 3) and style_groups(8) == (3, 4, 1)
    with pytest.raises(ValueError, match="at least 8"):
        style_groups(6)


@pytest.mark.parametrize("size", [8, 64])
def test_map_to_vectors_shapes(size):
    m = MapToVectors(5, 32, n=3, hidden=16)
    assert m(torch.randn(2, 5, size, size)).shape == (2, 3, 32)


def test_instance_norm_codes():
    w = torch.randn(2, 5, 64) * 3 + 1
    n = instance_norm_codes(w)
    torch.testing.assert_close(n.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(n.std(-1, unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0)


def test_premodulation_statistics_follow_gamma_and_beta():
    pm = PreModulation(w_dim=64, struct_dim=16, groups=(3, 4, 1))
    gammas, betas = (2.0, 0.5, 3.0), (-1.0, 0.25, 4.0)
    with torch.no_grad():
        for l in range(3):  # constant MLP outputs: γ_l ≡ c_l, β_l ≡ b_l
            pm.gamma[l][2].weight.zero_()
            pm.gamma[l][2].bias.fill_(gammas[l])
            pm.beta[l][2].weight.zero_()
            pm.beta[l][2].bias.fill_(betas[l])
    w = torch.randn(4, 8, 64) * 5 + 2
    out = pm(w, [torch.randn(4, 16) for _ in range(3)])
    assert out.shape == w.shape
    for l, sl in enumerate((slice(0, 3), slice(3, 7), slice(7, 8))):
        torch.testing.assert_close(out[:, sl].mean(-1), torch.full_like(out[:, sl, 0], betas[l]), atol=1e-4, rtol=0)
        torch.testing.assert_close(out[:, sl].std(-1, unbiased=False), torch.full_like(out[:, sl, 0], gammas[l]),
                                   atol=1e-3, rtol=1e-3)


class _ConstMapping(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, z):
        return self.value.expand(z.shape[0], -1)


def test_sml_static_with_tau_zero():
    sml = SoftMeanLatent(4, tau=0.0)
    sml.reset(torch.ones(4))
    for _ in range(5):
        sml.update(_ConstMapping(torch.full((4,), 7.0)), 4)
    torch.testing.assert_close(sml.online, torch.ones(4))
    assert int(sml.steps) == 5


def test_sml_soft_update_follows_the_formula():
    tau = 0.1
    sml = SoftMeanLatent(4, tau=tau, n_samples=8, period=3)
    sml.reset(torch.zeros(4))
    target = torch.full((4,), 2.0)
    expected = torch.zeros(4)
    for _ in range(6):
        sml.update(_ConstMapping(target), 4)
        expected = tau * target + (1 - tau) * expected  # w̄_onl ← τ·w̄_tgt + (1 − τ)·w̄_onl
        torch.testing.assert_close(sml.online, expected)
    torch.testing.assert_close(sml.target, target)


def test_sml_target_resampled_every_period_and_rank_consistent():
    G = StyleGAN2Generator(32, z_dim=16, w_dim=16, mapping_layers=2, channels={4: 8, 8: 8, 16: 8, 32: 8})
    a, b = SoftMeanLatent(16, tau=0.5, n_samples=32, period=2), SoftMeanLatent(16, tau=0.5, n_samples=32, period=2)
    targets = []
    for _ in range(4):
        a.update(G.mapping, 16)
        b.update(G.mapping, 16)
        targets.append(a.target.clone())
    torch.testing.assert_close(a.online, b.online)  # same step -> same z on every rank
    torch.testing.assert_close(targets[0], targets[1])
    assert not torch.allclose(targets[1], targets[2])


def test_sml_buffers_are_in_state_dict():
    assert {"online", "target", "steps"} <= set(SoftMeanLatent(8).state_dict())


def test_skip_injection_starts_at_zero():
    skip = SkipInjection([8, 4], [16, 32], {16: 12, 32: 6})
    out = skip([torch.randn(2, 8, 16, 16), torch.randn(2, 4, 32, 32)])
    assert out[16].shape == (2, 12, 16, 16) and out[32].shape == (2, 6, 32, 32)
    assert all(v.abs().sum() == 0 for v in out.values())


def _tiny_model(use_aux=True, premod=True, skip=True, tau=0.005, k=5):
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, z_dim=32, w_dim=32, mapping_layers=2, channels={4: 16, 8: 16, 16: 16, 32: 8})
    enc = MultiModalGuidedEncoder(k if use_aux else 0, use_aux, (8, 16, 16, 16), dict(depth=1),
                                  "adn" if use_aux else "none", heads=2)
    return MMInvertFill(G, enc, premod=premod, skip=skip, sml=dict(tau=tau, n_samples=16, period=10))


def _batch(size=32, k=5, b=2):
    g = torch.Generator().manual_seed(1)
    return dict(image=torch.rand(b, 3, size, size, generator=g) * 2 - 1,
                mask=(torch.rand(b, 1, size, size, generator=g) > 0.5).float(),
                seg=torch.randint(0, k, (b, size, size), generator=g),
                edge=(torch.rand(b, 1, size, size, generator=g) > 0.9).float())


def test_model_outputs_and_composite():
    model = _tiny_model()
    batch = _batch()
    out = model(batch)
    assert out["image"].shape == (2, 3, 32, 32) and out["ws"].shape == (2, 8, 32)
    torch.testing.assert_close(out["w_mean"], model.sml.online)
    known = batch["mask"].bool().expand_as(batch["image"])
    assert torch.equal(out["composite"][known], batch["image"][known])
    assert torch.equal(out["composite"][~known], out["image"][~known])
    assert [t.shape[-1] for t in out["rgb"]] == [8, 16, 32] and out["seg"][2].shape == (2, 5, 32, 32)


def test_gradients_reach_every_trainable_parameter_and_never_the_generator():
    model = _tiny_model()
    gen_before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-2)
    out = model(_batch())
    loss = out["image"].square().mean() + sum(r.square().mean() for r in out["rgb"])
    loss = loss + sum(e.square().mean() for e in out["edge"]) + sum(s.square().mean() for s in out["seg"])
    loss.backward()
    missing = [n for n, p in model.named_parameters() if not n.startswith("generator.") and p.grad is None]
    assert missing == []
    assert all(p.grad is None and not p.requires_grad for p in model.generator.parameters())
    opt.step()
    for k, v in model.generator.state_dict().items():
        assert torch.equal(v, gen_before[k]), k
    assert not any(p is q for p in model.trainable_parameters() for q in model.generator.parameters())


def test_generator_stays_in_eval_mode():
    model = _tiny_model().train()
    assert model.encoder.training and not model.generator.training


def test_skip_injection_changes_output_once_trained():
    model = _tiny_model()
    batch = _batch()
    with torch.no_grad():
        base = model(batch)["image"]
        for conv in model.skip.proj:
            conv.weight.normal_(std=0.1)
        assert (model(batch)["image"] - base).abs().max() > 1e-3


def test_variants_build_and_run():
    for kw in (dict(use_aux=False), dict(use_aux=False, premod=False, skip=False, tau=0.0)):
        model = _tiny_model(**kw)
        batch = _batch()
        del batch["seg"], batch["edge"]
        out = model(batch)
        assert out["image"].shape == (2, 3, 32, 32) and out["edge"][0] is None
    psp = _tiny_model(use_aux=False, premod=False, skip=False, tau=0.0)
    assert psp.skip is None and psp.premod is None


def test_wrong_input_size_is_reported():
    with pytest.raises(ValueError, match="32x32"):
        _tiny_model()(_batch(size=64))


def test_update_mean_latent_moves_online_mean():
    model = _tiny_model(tau=0.5)
    before = model.sml.online.clone()
    model.update_mean_latent()
    assert not torch.allclose(model.sml.online, before)
    assert "sml.online" in model.state_dict()


def _with_noise(model):
    with torch.no_grad():
        for name, p in model.generator.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    return model


def test_generator_noise_is_random_in_training_and_constant_in_eval():
    model = _with_noise(_tiny_model())
    batch = _batch()
    with torch.no_grad():
        model.train()
        a, b = model(batch)["image"], model(batch)["image"]
        assert (a - b).abs().max() > 1e-3  # fresh noise per call
        model.eval()
        c, d = model(batch)["image"], model(batch)["image"]
    assert torch.equal(c, d)
    assert model.config["train_noise_mode"] == "random" and model.config["noise_mode"] == "const"
    with pytest.raises(ValueError, match="train_noise_mode"):
        MMInvertFill(model.generator, model.encoder, train_noise_mode="loud")


def test_architecture_round_trip_keeps_noise_modes_and_old_descriptions_train_with_const():
    model = _tiny_model()
    arch = model.architecture()
    assert MMInvertFill.from_architecture(arch).train_noise_mode == "random"
    del arch["model"]["train_noise_mode"]  # written before the option existed
    old = _with_noise(MMInvertFill.from_architecture(arch)).train()
    assert old.train_noise_mode == "const"
    with torch.no_grad():
        assert torch.equal(old(_batch())["image"], old(_batch())["image"])
