"""MAGEC (LinkNet loss, two-phase schedule), the edit-consistency score, and the seed-faithful options of
the optimisation baseline (log-sum-exp τ = 1 default, summed masked MSE, stochastic fills)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from mminvert.baselines import (
    PAPER_PHASES,
    AttributeGuidance,
    LinkNet,
    MagecInversion,
    MagecPhase,
    OptimInversion,
    magec_loss,
    train_linknet,
)
from mminvert.baselines.magec import descriptor_of_holed_image
from mminvert.baselines.telea import telea_fill
from mminvert.editing import LatentDirections
from mminvert.metrics import edit_consistency_score, edit_cycle
from mminvert.stylegan2 import StyleGAN2Generator


def _generator() -> StyleGAN2Generator:
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, z_dim=16, w_dim=16, mapping_layers=2, channels={4: 16, 8: 16, 16: 8, 32: 8})
    G.w_avg = G.mean_latent(256, seed=0)
    return G


class _Descriptor(nn.Module):
    """Two attributes from mean colour: logits = (mean red − mean blue) · 4, (mean green) · 4."""

    names = ["red", "green"]

    def forward(self, x: Tensor) -> Tensor:
        m = x.mean(dim=(2, 3))
        return torch.stack([(m[:, 0] - m[:, 2]) * 4, m[:, 1] * 4], 1)


def _directions(w_dim: int) -> LatentDirections:
    n = torch.zeros(2, w_dim)
    n[0, 0] = 1.0
    n[1, 1] = 1.0
    return LatentDirections(["red", "green"], n, torch.zeros(2), torch.tensor([2.0, 0.5]), torch.ones(2))


def test_linknet_loss_matches_the_formula_by_hand():
    link = LinkNet(num_ws=2, w_dim=3, num_attributes=2)
    with torch.no_grad():
        link.linear.weight.copy_(torch.tensor([[1.0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1.0, 0]]))
        link.linear.bias.copy_(torch.tensor([0.5, -0.5]))
    dirs = LatentDirections(["a", "b"], torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), torch.zeros(2),
                            torch.tensor([2.0, 1.0]), torch.ones(2))
    ws = torch.tensor([[[0.2, 0.1, 0.0], [0.4, -0.3, 0.0]]])  # (1, 2, 3)
    d = torch.tensor([[0.7, 0.2]])

    def bce(logit: float, t: float) -> float:
        p = 1 / (1 + math.exp(-logit))
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    # L(w) = (w[0,0] + 0.5, w[1,1] − 0.5) = (0.7, −0.8)
    base = (bce(0.7, 0.7) + bce(-0.8, 0.2)) / 2
    # e_1 = add "a" with strength 1: w += 1·2·[1,0,0] on both layers -> logits (2.7, −0.8), d_e = (1, 0.2)
    e1 = (bce(2.7, 1.0) + bce(-0.8, 0.2)) / 2
    # e_2 = remove "b" with strength 0.5: w += −0.5·1·[0,1,0] -> logits (0.7, −1.3), d_e = (0.7, 0)
    e2 = (bce(0.7, 0.7) + bce(-1.3, 0.0)) / 2
    got = magec_loss(link, ws, d, dirs, [("a", 1.0), ("b", -0.5)])
    torch.testing.assert_close(got, torch.tensor([base + (e1 + e2) / 2]))
    torch.testing.assert_close(magec_loss(link, ws, d, dirs, []), torch.tensor([base]))


def test_linknet_learns_the_descriptor_of_generated_samples():
    G = _generator()
    link, stats = train_linknet(G, _Descriptor(), num_samples=256, steps=300, lr=0.05, seed=0)
    assert link(torch.zeros(3, G.num_ws, G.w_dim)).shape == (3, 2)
    assert stats["agreement"] > 0.75, stats
    assert all(not p.requires_grad for p in link.parameters())


def test_paper_schedule_and_two_phase_objective():
    assert [(p.steps, p.mse, p.lpips, p.id, p.magec) for p in PAPER_PHASES] == [
        (100, 1e-3, 0.5, 3e-4, 3e-4), (100, 0.5, 0.5, 3e-4, 3e-4)]
    G = _generator()
    dirs = _directions(G.w_dim)
    link = LinkNet(G.num_ws, G.w_dim, 2)
    perc = lambda x, y: (x - y).abs().mean(dim=(1, 2, 3))  # noqa: E731  (stand-in perceptual distance)
    ident = lambda x, y: (x.mean(dim=(1, 2, 3)) - y.mean(dim=(1, 2, 3))).abs()  # noqa: E731
    phases = [MagecPhase(3, mse=1e-3, lpips=0.5, id=3e-4, magec=3e-4), MagecPhase(2, mse=0.5, lpips=0.5, id=3e-4, magec=3e-4)]
    inv = MagecInversion(G, _Descriptor(), dirs, [("red", 1.0), ("green", -1.0)], linknet=link, phases=phases,
                         lr=0.07, lr_decay=0.8, lr_every=2, perceptual=perc, identity=ident)
    with torch.no_grad():
        target = G(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(1)))
    mask = torch.ones(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 0
    out = inv(target, mask)
    # lr 0.07 × 0.8 every 2 steps, continuing through the phase change
    torch.testing.assert_close(out["lr"], torch.tensor([0.07, 0.07, 0.056, 0.056, 0.0448]), rtol=1e-6, atol=1e-7)
    w = torch.tensor([[p.mse, p.lpips, p.id, p.magec] for p in phases for _ in range(p.steps)])
    terms = torch.stack([out["loss_mse"], out["loss_perceptual"], out["loss_id"], out["loss_magec"]], 1)
    torch.testing.assert_close(out["loss"], (w * terms).sum(1))
    assert (terms > 0).all()
    assert out["ws"].shape == (2, G.num_ws, G.w_dim) and out["descriptor"].shape == (2, 2)
    m = mask.bool().expand_as(target)
    assert torch.equal(out["composite"][m], target[m])
    # λ_MAGEC = 0 everywhere: no LinkNet is needed, the MAGEC term is zero
    plain = MagecInversion(G, _Descriptor(), dirs, [("red", 1.0)], phases=[MagecPhase(2, 1.0, 0.0, 0.0, 0.0)])
    assert plain.linknet is None and (plain(target, mask)["loss_magec"] == 0).all()
    with pytest.raises(KeyError, match="unknown attribute"):
        MagecInversion(G, _Descriptor(), dirs, [("blue", 1.0)], linknet=link)


def test_descriptor_of_a_holed_image():
    x = torch.zeros(1, 3, 16, 16)
    x[:, 0] = 0.8  # red everywhere
    mask = torch.ones(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 0
    holed = x * mask
    filled = telea_fill(holed, mask)
    assert torch.equal(filled[mask.bool().expand_as(x)], holed[mask.bool().expand_as(x)])
    assert (filled[:, 0, 6:10, 6:10] - 0.8).abs().max() < 0.02  # Telea continues the red into the hole
    d_telea = descriptor_of_holed_image(_Descriptor(), holed, mask, "telea")
    d_known = descriptor_of_holed_image(_Descriptor(), holed, mask, "known")
    torch.testing.assert_close(d_telea, torch.sigmoid(_Descriptor()(filled)))
    torch.testing.assert_close(d_known, torch.sigmoid(_Descriptor()(holed)))
    assert d_telea[0, 0] > d_known[0, 0]  # the fill makes the image redder than the holed one


def test_ecs_equals_the_hand_computed_value():
    p = torch.zeros(2, 3, 4, 4)
    edit = torch.full((2, 3, 4, 4), 1.0)
    cyc = torch.full((2, 3, 4, 4), 0.25)
    cyc[1] = 0.0  # sample 1 cycles back exactly
    l1 = lambda a, b: (a - b).abs().mean(dim=(1, 2, 3))  # noqa: E731
    # sample 0: 2·0.25 / (1 + 0.75) = 0.2857…; sample 1: 0
    torch.testing.assert_close(edit_consistency_score(p, edit, cyc, l1), torch.tensor([0.5 / 1.75, 0.0]))
    # a small edit whose cycle lands far away: 2·1 / (0.1 + 1.1) = 1.67 > 1 (poor)
    small, far = torch.full((2, 3, 4, 4), 0.1), torch.full((2, 3, 4, 4), -1.0)
    torch.testing.assert_close(edit_consistency_score(p, small, far, l1), torch.full((2,), 2 / 1.2))


def test_edit_cycle_of_an_exact_inversion_is_perfect():
    """A linear 'generator' and an inversion that recovers w exactly: ECS = 0."""
    A = torch.randn(12, 4, generator=torch.Generator().manual_seed(0))
    render = lambda w: (w @ A.T).reshape(-1, 3, 2, 2)  # noqa: E731
    invert = lambda x, m: {"ws": torch.linalg.lstsq(A, x.reshape(x.shape[0], -1).T).solution.T}  # noqa: E731
    n = torch.tensor([1.0, 0.0, 0.0, 0.0])
    w = torch.randn(3, 4)
    p_x, x_edit, x_cyc = edit_cycle(invert, render, w, lambda ws, s: ws + s * n, 2.0)
    torch.testing.assert_close(x_cyc, p_x, atol=1e-4, rtol=1e-4)
    l2 = lambda a, b: (a - b).square().mean(dim=(1, 2, 3))  # noqa: E731
    assert edit_consistency_score(p_x, x_edit, x_cyc, l2).max() < 1e-4


def test_attribute_guidance_default_is_log_sum_exp_with_unit_temperature():
    g = AttributeGuidance(nn.Linear(3, 2), [1, 0], epsilon=0.3)
    assert g.relaxation == "logsumexp" and g.temperature == 1.0
    bce = torch.tensor([0.0, 0.3, 2.0])
    torch.testing.assert_close(g.relax(bce), torch.log(torch.exp(bce) + math.exp(0.3)))


def test_optim_inversion_summed_mse_and_stochastic_fills():
    G = _generator()
    with torch.no_grad():
        target = G(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(1)))
    mask = torch.ones(1, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 0
    known = float(mask.sum() * 3)
    summed = OptimInversion(G, steps=1)(target, mask)  # default: the seed's sum over known values
    mean = OptimInversion(G, steps=1, mse_reduction="mean")(target, mask)
    torch.testing.assert_close(summed["loss_mse"], mean["loss_mse"] * known)
    with torch.no_grad():  # (a fresh generator's noise strengths are 0)
        for name, prm in G.named_parameters():
            if name.endswith("noise_strength"):
                prm.fill_(0.3)
    a = OptimInversion(G, steps=3, noise_mode="random", seed=1)(target, mask)
    b = OptimInversion(G, steps=3, noise_mode="random", seed=1)(target, mask)
    c = OptimInversion(G, steps=3, noise_mode="random", seed=2)(target, mask)
    assert torch.equal(a["image"], b["image"]) and not torch.equal(a["image"], c["image"])
    hole = ~mask.bool().expand_as(target)
    assert not torch.equal(a["composite"][hole], c["composite"][hole])  # different fills
    with pytest.raises(ValueError, match="mse_reduction"):
        OptimInversion(G, mse_reduction="median")
