"""OptimInversion (W+ optimisation baseline) on tiny random 32 px generators."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mminvert.baselines import AttributeGuidance, OptimInversion, TextGuidance
from mminvert.stylegan2 import StyleGAN2Generator


def _generator() -> StyleGAN2Generator:
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, z_dim=32, w_dim=32, mapping_layers=2, channels={4: 16, 8: 16, 16: 8, 32: 8})
    G.w_avg = G.mean_latent(256, seed=0)
    return G


def _problem(G: StyleGAN2Generator, B: int = 2) -> tuple[Tensor, Tensor]:
    """A generator image (reachable target) and a mask with a centred square hole."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        target = G(torch.randn(B, G.z_dim, generator=gen), noise_mode="const")
    mask = torch.ones(B, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 0
    return target, mask


class _TinyFeatures(nn.Module):
    """A stand-in perceptual module: distance between random conv features, per sample."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return (self.net(x) - self.net(y)).square().mean(dim=(1, 2, 3))


def test_loss_decreases_composite_exact_generator_frozen() -> None:
    G = _generator()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    target, mask = _problem(G)
    inv = OptimInversion(G, steps=30, lr=0.05, gamma=0.99)
    out = inv(target, mask)

    B, R = 2, 32
    assert out["image"].shape == (B, 3, R, R) and out["composite"].shape == (B, 3, R, R)
    assert out["ws"].shape == (B, G.num_ws, G.w_dim)
    assert out["loss"].shape == out["loss_mse"].shape == out["loss_perceptual"].shape == (30,)
    loss = out["loss"]
    assert torch.isfinite(loss).all()
    assert loss[-5:].mean() < 0.5 * loss[:5].mean(), loss  # the known pixels are reachable
    # final image fits the known pixels better than the starting point w_avg
    with torch.no_grad():
        start = G.synthesis(G.w_avg.reshape(1, 1, -1).expand(B, G.num_ws, -1), noise_mode="const")
    m = mask.bool().expand_as(target)
    assert (out["image"] - target)[m].square().mean() < (start - target)[m].square().mean()
    # known pixels of the composite are the input's, exactly; the hole is the generator's
    assert torch.equal(out["composite"][m], target[m])
    assert torch.equal(out["composite"][~m], out["image"][~m])
    # the generator is frozen and untouched
    assert all(not p.requires_grad and p.grad is None for p in G.parameters())
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert not G.training and not out["ws"].requires_grad


def test_deterministic_and_perceptual_term() -> None:
    G = _generator()
    target, mask = _problem(G, B=1)
    perc = _TinyFeatures()
    a = OptimInversion(G, steps=5, perceptual=perc, lambda_perceptual=0.5)(target, mask)
    b = OptimInversion(G, steps=5, perceptual=perc, lambda_perceptual=0.5)(target, mask)
    assert torch.equal(a["ws"], b["ws"]) and torch.equal(a["loss"], b["loss"])
    assert (a["loss_perceptual"] > 0).all()
    torch.testing.assert_close(a["loss"], a["loss_mse"] + 0.5 * a["loss_perceptual"])
    assert all(p.grad is None for p in perc.parameters())


def test_gradient_free_perceptual_and_bad_shapes_rejected() -> None:
    G = _generator()
    target, mask = _problem(G, B=1)

    @torch.no_grad()
    def no_grad_distance(x: Tensor, y: Tensor) -> Tensor:
        return (x - y).abs().mean(dim=(1, 2, 3))

    with pytest.raises(RuntimeError, match="no gradient"):
        OptimInversion(G, steps=1, perceptual=no_grad_distance)(target, mask)
    with pytest.raises(ValueError, match="mask must be"):
        OptimInversion(G, steps=1)(target, mask[:, :, :16])
    with pytest.raises(ValueError, match="image must be"):
        OptimInversion(G, steps=1)(target[:, :, :16, :16], mask)


def test_lpips_metric_usable_as_perceptual_term() -> None:
    """LPIPSMetric's forward is gradient-free; OptimInversion uses its inner network instead."""
    from mminvert.metrics import LPIPSMetric

    G = _generator()
    target, mask = _problem(G, B=1)
    torch.manual_seed(3)
    metric = LPIPSMetric("alex", pretrained=False, allow_random=True)
    out = OptimInversion(G, steps=3, perceptual=metric)(target, mask)
    assert (out["loss_perceptual"] > 0).all() and torch.isfinite(out["loss"]).all()


class _TinyClassifier(nn.Module):
    """Two "attributes": logits from random conv features (stand-in for a pretrained attribute classifier)."""

    def __init__(self, out: int = 2) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(8, out))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def test_attribute_relaxations_match_their_formulas() -> None:
    bce = torch.tensor([0.0, 0.03, 0.05, 0.2, 2.0])
    hinge = AttributeGuidance(_TinyClassifier(), [1, 0], epsilon=0.05, relaxation="hinge")
    torch.testing.assert_close(hinge.relax(bce), torch.tensor([0.05, 0.05, 0.05, 0.2, 2.0]))
    lse = AttributeGuidance(_TinyClassifier(), [1, 0], epsilon=0.05, relaxation="logsumexp", temperature=0.1)
    want = 0.1 * torch.log(torch.exp(bce / 0.1) + torch.exp(torch.tensor(0.05) / 0.1))
    torch.testing.assert_close(lse.relax(bce), want)
    assert (lse.relax(bce) >= hinge.relax(bce)).all()
    # per-sample value: mean over constrained attributes only (NaN = free), times the weight
    clf = _TinyClassifier(3)
    g = AttributeGuidance(clf, [1, float("nan"), 0], weight=2.0, epsilon=0.0, relaxation="hinge")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    logits = clf(g.prepare(x))
    bce = F.binary_cross_entropy_with_logits(logits, torch.tensor([1.0, 0.0, 0.0]).expand(2, 3), reduction="none")
    torch.testing.assert_close(g(x), 2.0 * (bce[:, 0] + bce[:, 2]) / 2)
    with pytest.raises(ValueError, match="targets must be 0, 1 or NaN"):
        AttributeGuidance(clf, [0.5, 1, 0])
    with pytest.raises(ValueError, match=r"logits \(B, 2\)"):
        AttributeGuidance(clf, [1, 0])(x)


def test_attribute_guidance_steers_the_fill() -> None:
    G = _generator()
    target, mask = _problem(G, B=1)
    clf = _TinyClassifier()
    guide = AttributeGuidance(clf, [1, 0], weight=5.0, epsilon=0.0, relaxation="hinge")
    plain = OptimInversion(G, steps=25, lr=0.05)(target, mask)
    steered = OptimInversion(G, steps=25, lr=0.05, guidance=[guide])(target, mask)
    with torch.no_grad():
        p_plain = torch.sigmoid(clf(guide.prepare(plain["image"])))[0]
        p_steered = torch.sigmoid(clf(guide.prepare(steered["image"])))[0]
    assert p_steered[0] > p_plain[0] and p_steered[1] < p_plain[1]  # attribute 0 on, attribute 1 off
    assert steered["loss_semantic"][-1] < steered["loss_semantic"][0]
    assert (plain["loss_semantic"] == 0).all()
    torch.testing.assert_close(steered["loss"], steered["loss_mse"] + steered["loss_semantic"])
    assert all(p.grad is None for p in clf.parameters())


def test_text_guidance_from_torchscript_files(tmp_path) -> None:
    G = _generator()
    target, mask = _problem(G, B=1)
    torch.manual_seed(5)
    encoder = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            nn.Linear(8, 16))
    torch.jit.script(encoder).save(str(tmp_path / "clip_visual.pt"))
    text = torch.randn(16)
    torch.save(text, tmp_path / "prompt.pt")
    guide = TextGuidance(tmp_path / "clip_visual.pt", tmp_path / "prompt.pt", weight=3.0, input_size=48)
    # (per-value MSE: with the summed MSE of the default the weight would scale with the known pixels)
    out = OptimInversion(G, steps=25, lr=0.05, guidance=[guide], mse_reduction="mean")(target, mask)
    with torch.no_grad():
        cos = [F.cosine_similarity(encoder(guide.prepare(x)), text[None]).item() for x in (
            G.synthesis(G.w_avg.reshape(1, 1, -1).expand(1, G.num_ws, -1), noise_mode="const"), out["image"])]
    assert cos[1] > cos[0]
    torch.testing.assert_close(out["loss_semantic"][0], 3.0 * (1 - torch.tensor(cos[0])), atol=1e-4, rtol=1e-4)
    with pytest.raises(FileNotFoundError, match="nope.pt does not exist"):
        TextGuidance(tmp_path / "nope.pt", text)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a TorchScript network"):
        TextGuidance(tmp_path / "junk.pt", text)
