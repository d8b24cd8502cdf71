"""Generator API: shapes, truncation, noise modes, F&W+ feature injection, frozen-generator gradients."""
import pytest
import torch

from mminvert.stylegan2 import StyleGAN2Discriminator, default_channels


def test_shapes_and_attributes(tiny_generator):
    G = tiny_generator
    assert (G.z_dim, G.w_dim, G.num_ws, G.resolution) == (64, 64, 8, 32)
    assert G.w_avg.shape == (64,)
    z = torch.randn(2, 64)
    assert G.mapping(z).shape == (2, 64)
    assert G(z).shape == (2, 3, 32, 32)
    assert G.synthesis(torch.randn(2, 8, 64)).shape == (2, 3, 32, 32)


def test_default_channels_are_config_f():
    assert default_channels(256) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128}


def test_truncation_lerps_toward_w_avg(tiny_generator):
    G = tiny_generator
    G.w_avg = torch.randn(64)
    z = torch.randn(3, 64)
    w = G.mapping(z)
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.5), G.w_avg + 0.5 * (w - G.w_avg))
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.0), G.w_avg.expand(3, -1))


def test_noise_modes(tiny_generator):
    G = tiny_generator
    ws = torch.randn(2, G.num_ws, G.w_dim)
    const = G.synthesis(ws, noise_mode="const")
    torch.testing.assert_close(G.synthesis(ws, noise_mode="const"), const)
    torch.manual_seed(0)
    r1 = G.synthesis(ws, noise_mode="random")
    r2 = G.synthesis(ws, noise_mode="random")
    assert not torch.allclose(r1, r2)
    assert not torch.allclose(G.synthesis(ws, noise_mode="none"), const)
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="bogus")


def test_mean_latent_is_deterministic_and_close_to_sample_mean(tiny_generator):
    G = tiny_generator
    a, b = G.mean_latent(2000, seed=3), G.mean_latent(2000, seed=3)
    torch.testing.assert_close(a, b)
    assert a.shape == (64,)
    torch.testing.assert_close(a, G.mapping(torch.randn(20000, 64)).mean(0), atol=0.05, rtol=0.05)


def test_zero_features_leave_output_unchanged(tiny_generator):
    G = tiny_generator
    ws = torch.randn(2, G.num_ws, G.w_dim)
    feats = {r: torch.zeros(2, G.channels[r], r, r) for r in (8, 16, 32)}
    torch.testing.assert_close(G.synthesis(ws, features=feats), G.synthesis(ws))


@pytest.mark.parametrize("res", [8, 16, 32])
def test_features_change_output_and_get_gradients(tiny_generator, res):
    G = tiny_generator.freeze()
    ws = torch.randn(2, G.num_ws, G.w_dim, requires_grad=True)
    f = (0.5 * torch.randn(2, G.channels[res], res, res)).requires_grad_()
    out = G.synthesis(ws, features={res: f})
    assert (out - G.synthesis(ws)).abs().max() > 1e-3
    out.square().mean().backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    assert ws.grad is not None and ws.grad.abs().sum() > 0
    assert all(p.grad is None for p in G.parameters())


def test_features_validated(tiny_generator):
    G = tiny_generator
    ws = torch.randn(2, G.num_ws, G.w_dim)
    with pytest.raises(ValueError, match="resolution 64"):
        G.synthesis(ws, features={64: torch.zeros(2, 16, 64, 64)})
    with pytest.raises(ValueError, match=r"must be \(2, 16, 16, 16\)"):
        G.synthesis(ws, features={16: torch.zeros(2, 3, 16, 16)})
    with pytest.raises(ValueError, match="ws must be"):
        G.synthesis(torch.randn(2, 3, G.w_dim))


def test_discriminator_shapes_and_input_check():
    D = StyleGAN2Discriminator(32, channels={4: 32, 8: 32, 16: 16, 32: 16})
    assert D(torch.randn(4, 3, 32, 32)).shape == (4, 1)
    assert D(torch.randn(2, 3, 32, 32)).shape == (2, 1)  # group size adapts to small batches
    with pytest.raises(ValueError, match="discriminator input"):
        D(torch.randn(4, 4, 32, 32))


def test_channels_last_and_fused_paths_give_same_output(tiny_generator):
    G = tiny_generator
    ws = torch.randn(2, G.num_ws, G.w_dim)
    ref = G.synthesis(ws)
    assert ref.is_contiguous()
    for block in G.synthesis.blocks:
        block.channels_last = False
    torch.testing.assert_close(G.synthesis(ws), ref, atol=1e-5, rtol=1e-5)
    for m in G.modules():
        if hasattr(m, "fused"):
            m.fused = True
    torch.testing.assert_close(G.synthesis(ws), ref, atol=1e-5, rtol=1e-5)
