"""Contextual-loss z optimisation (Yeh / Vitoria) and Poisson blending on tiny 32 px networks."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mminvert.baselines import ContextualInversion, importance_weights, poisson_blend
from mminvert.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator


def _networks() -> tuple[StyleGAN2Generator, StyleGAN2Discriminator]:
    torch.manual_seed(0)
    chans = {4: 16, 8: 16, 16: 8, 32: 8}
    G = StyleGAN2Generator(32, z_dim=32, w_dim=32, mapping_layers=2, channels=chans)
    G.w_avg = G.mean_latent(256, seed=0)
    return G, StyleGAN2Discriminator(32, channels=chans)


def _problem(G: StyleGAN2Generator, B: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        target = G(torch.randn(B, G.z_dim, generator=torch.Generator().manual_seed(1)), noise_mode="const")
    mask = torch.ones(B, 1, 32, 32)
    mask[:, :, 8:24, 10:22] = 0
    return target, mask


def test_importance_weights_by_hand():
    mask = torch.ones(1, 1, 5, 5)
    mask[0, 0, 2, 2] = 0
    W = importance_weights(mask, window=3)[0, 0]
    want = torch.zeros(5, 5)
    want[1:4, 1:4] = 1 / 9
    want[2, 2] = 0  # the hole itself
    torch.testing.assert_close(W, want)
    corner = torch.ones(1, 1, 4, 4)
    corner[0, 0, 0, 0] = 0
    assert importance_weights(corner, 3)[0, 0, 0, 1].item() == pytest.approx(1 / 6)  # 6 neighbours inside the image
    with pytest.raises(ValueError, match="odd"):
        importance_weights(mask, 4)


def test_poisson_blend_follows_the_fill_gradients_and_keeps_known_pixels():
    torch.manual_seed(0)
    y = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.ones(2, 1, 32, 32)
    mask[0, :, 5:20, 8:30] = 0
    mask[1] = 0  # no known pixel: the fill is returned
    fill = torch.rand(2, 3, 32, 32) * 2 - 1
    # a fill that differs from the image by a constant has the image's gradients: the blend recovers it
    out = poisson_blend(y + 0.4, y, mask)
    torch.testing.assert_close(out[0], y[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1], y[1] + 0.4)
    out = poisson_blend(fill, y, mask)
    known = mask[0].bool().expand(3, -1, -1)
    assert torch.equal(out[0][known], y[0][known])
    # x − fill is discrete-harmonic inside the hole
    d = (out[0] - fill[0]).unsqueeze(0)
    lap = F.conv2d(F.pad(d, (1, 1, 1, 1)), torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).expand(3, 1, 3, 3),
                   groups=3)[0]
    assert lap[:, 5:20, 8:30].abs().max() < 1e-4 and lap[:, 5:20, 8:30].numel() > 0
    with pytest.raises(ValueError, match="disagree"):
        poisson_blend(fill[:, :, :16], y, mask)


def test_contextual_inversion_fits_the_context_with_a_frozen_prior():
    G, D = _networks()
    before = {k: v.clone() for k, v in [*G.state_dict().items(), *{f"D.{k}": v for k, v in D.state_dict().items()}.items()]}
    target, mask = _problem(G)
    inv = ContextualInversion(G, D, steps=40, lr=0.05, alpha=0.01, beta=0.5)
    out = inv(target, mask)
    assert out["image"].shape == out["composite"].shape == target.shape and out["z"].shape == (2, G.z_dim)
    assert all(out[k].shape == (40,) for k in ("loss", "loss_context", "loss_gradient", "loss_prior"))
    assert out["loss_context"][-5:].mean() < 0.6 * out["loss_context"][:5].mean()
    assert (out["loss_prior"] != 0).all()
    torch.testing.assert_close(out["loss"], out["loss_context"] + 0.5 * out["loss_gradient"] + 0.01 * out["loss_prior"])
    m = mask.bool().expand_as(target)
    assert torch.equal(out["composite"][m], target[m])
    assert not torch.equal(out["composite"][~m], out["image"][~m])  # blended, not pasted
    after = {**G.state_dict(), **{f"D.{k}": v for k, v in D.state_dict().items()}}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in [*G.parameters(), *D.parameters()])
    # determinism, and the plain paste without blending or prior
    again = ContextualInversion(G, D, steps=40, lr=0.05, alpha=0.01, beta=0.5)(target, mask)
    assert torch.equal(again["z"], out["z"])
    pasted = ContextualInversion(G, None, steps=3, blend=False)(target, mask)
    assert torch.equal(pasted["composite"][~m], pasted["image"][~m]) and (pasted["loss_prior"] == 0).all()
    with pytest.raises(ValueError, match="mask must be"):
        inv(target, mask[:, :, :16])
