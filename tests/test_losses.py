"""Loss terms compute what their formulas say; weight-0 terms are never built; missing weights are clear."""
import logging
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision

from mminvert.io import CheckpointError, MissingWeightsError
from mminvert.losses import (
    FidelityLoss,
    InpaintingLoss,
    MaskedL1,
    MultiScaleLoss,
    NonSaturatingAdversarial,
    PatchDiscriminator,
    PerceptualLoss,
    balanced_bce_with_logits,
    sobel_edges,
)


def _batch(size=32, b=2, k=4):
    g = torch.Generator().manual_seed(0)
    return dict(image=torch.rand(b, 3, size, size, generator=g) * 2 - 1,
                mask=(torch.rand(b, 1, size, size, generator=g) > 0.5).float(),
                edge=(torch.rand(b, 1, size, size, generator=g) > 0.8).float(),
                seg=torch.randint(0, k, (b, size, size), generator=g))


def test_masked_l1_regions():
    batch = _batch()
    out = {"image": batch["image"] + 0.5}
    m = batch["mask"]
    torch.testing.assert_close(MaskedL1("valid")(out, batch), (0.5 * m).expand(-1, 3, -1, -1).mean())
    torch.testing.assert_close(MaskedL1("hole")(out, batch), (0.5 * (1 - m)).expand(-1, 3, -1, -1).mean())
    with pytest.raises(ValueError, match="region"):
        MaskedL1("everywhere")


def test_masked_l1_on_a_hand_made_pair():
    """|ŷ − y| summed over a region, divided by all B·3·H·W entries (a mean, so hole + valid = plain L1)."""
    target = torch.zeros(1, 3, 2, 2)
    pred = torch.tensor([[[[0.5, 0.1], [-1.0, 0.0]],   # channel 0; pixels (0,0) (0,1) / (1,0) (1,1)
                          [[-0.5, 0.2], [0.0, 0.0]],   # channel 1
                          [[1.0, 0.3], [0.0, 0.4]]]],  # channel 2: |.| per pixel 2.0, 0.6 / 1.0, 0.4
                        requires_grad=True)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])  # (0,0) and (1,1) known
    batch = {"image": target, "mask": mask}
    valid, hole = MaskedL1("valid")({"image": pred}, batch), MaskedL1("hole")({"image": pred}, batch)
    assert valid.item() == pytest.approx((2.0 + 0.4) / 12) and hole.item() == pytest.approx((0.6 + 1.0) / 12)
    assert (valid + hole).item() == pytest.approx((pred - target).abs().mean().item())
    assert MaskedL1("hole")({"image": target}, batch).item() == 0.0 == MaskedL1("valid")({"image": target}, batch).item()
    hole.backward()  # the hole term pulls only hole pixels, each by sign(ŷ − y) / 12
    torch.testing.assert_close(pred.grad, torch.sign(pred.detach()) * (1 - mask) / 12, rtol=0, atol=0)
    assert pred.grad[..., 0, 0].abs().sum() == 0 and pred.grad[..., 1, 1].abs().sum() == 0


def test_missing_backbone_weights_name_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)
    with pytest.raises(MissingWeightsError, match=r"resnet50-0676ba61\.pth.*pretrained: false"):
        PerceptualLoss("hrf", pretrained=True)
    with pytest.raises(MissingWeightsError, match="nope.pth does not exist"):
        PerceptualLoss("vgg", pretrained=True, weights_path=str(tmp_path / "nope.pth"))


def test_backbone_weights_load_from_configured_path(tmp_path):
    net = torchvision.models.resnet50(weights=None)
    torch.save(net.state_dict(), tmp_path / "r50.pth")
    loss = PerceptualLoss("hrf", pretrained=True, weights_path=str(tmp_path / "r50.pth"))
    torch.testing.assert_close(loss.net.stages[0][0].conv1.weight, net.layer1[0].conv1.weight)


def test_hrf_fallback_to_imagenet_resnet50_warns_once(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no ADE20k encoder there
    monkeypatch.setenv("MMINVERT_WEIGHTS", str(tmp_path))
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), tmp_path / "resnet50-0676ba61.pth")
    with caplog.at_level(logging.WARNING, logger="mminvert.losses.perceptual"):
        PerceptualLoss("hrf", pretrained=True)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    msg = warnings[0].getMessage()
    assert "ImageNet ResNet-50" in msg and "resnet50-0676ba61.pth" in msg and "ADE20k" in msg


def test_hrf_with_lamas_ade20k_encoder_does_not_warn(monkeypatch, tmp_path, caplog):
    state, _ = _mit_resnet50dilated_state()
    torch.save(state, tmp_path / "ade.pth")
    with caplog.at_level(logging.WARNING, logger="mminvert.losses.perceptual"):
        PerceptualLoss("hrf", pretrained=True, weights_path=str(tmp_path / "ade.pth"))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def _mit_resnet50dilated_state(seed=0):
    """An encoder state dict in the MIT scene-parsing layout LaMa's ADE20k file has (deep stem:
    conv1/bn1 3->64 stride 2, conv2/bn2 64->64, conv3/bn3 64->128; layer1 takes 128 channels), with
    random weights and non-trivial batch-norm statistics, plus a reference forward built by hand."""
    torch.manual_seed(seed)
    tv = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
    tv.layer1[0].conv1 = torch.nn.Conv2d(128, 64, 1, bias=False)
    tv.layer1[0].downsample[0] = torch.nn.Conv2d(128, 256, 1, bias=False)
    stem = {"conv1": torch.nn.Conv2d(3, 64, 3, 2, 1, bias=False), "bn1": torch.nn.BatchNorm2d(64),
            "conv2": torch.nn.Conv2d(64, 64, 3, 1, 1, bias=False), "bn2": torch.nn.BatchNorm2d(64),
            "conv3": torch.nn.Conv2d(64, 128, 3, 1, 1, bias=False), "bn3": torch.nn.BatchNorm2d(128)}
    mods = {**stem, **{f"layer{i}": getattr(tv, f"layer{i}") for i in range(1, 5)}}
    state = {}
    for name, m in mods.items():
        for sub in m.modules():
            if isinstance(sub, torch.nn.BatchNorm2d):
                sub.running_mean.uniform_(-0.1, 0.1), sub.running_var.uniform_(0.5, 1.5), sub.weight.data.uniform_(0.5, 1)
        state.update({f"{name}.{k}": v.clone() for k, v in m.state_dict().items() if "num_batches" not in k})

    def forward(x):
        x = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
            [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        for i in (1, 2, 3):
            x = F.relu(stem[f"bn{i}"].eval()(stem[f"conv{i}"](x)))
        x = F.max_pool2d(x, 3, 2, 1)
        feats = []
        for i in range(1, 5):
            x = getattr(tv, f"layer{i}").eval()(x)
            feats.append(x)
        return feats
    return state, forward


def test_hrf_reads_lamas_ade20k_encoder_from_torch_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)
    state, reference = _mit_resnet50dilated_state()
    target = tmp_path / "ade20k" / "ade20k-resnet50dilated-ppm_deepsup" / "encoder_epoch_20.pth"
    target.parent.mkdir(parents=True)
    torch.save({f"module.{k}": v for k, v in state.items()}, target)  # saved from DataParallel: prefixed
    loss = PerceptualLoss("hrf", pretrained=True)  # found where LaMa's setup puts it, no path configured
    x = _batch(size=64)["image"]
    with torch.no_grad():
        got, want = loss.net(x), reference(x)
    assert [f.shape[-1] for f in got] == [16, 8, 8, 8]  # output stride 8
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # the MIT encoder's dilation rule: first block of layer3/4 at dilation 1/2, the rest 2/4, no strides
    l3, l4 = loss.net.stages[2], loss.net.stages[3]
    assert [b.conv2.dilation[0] for b in l3] == [1, 2, 2, 2, 2, 2] and [b.conv2.dilation[0] for b in l4] == [2, 4, 4]
    assert l3[0].conv2.stride == (1, 1) and l4[0].downsample[0].stride == (1, 1)


def test_backbone_weights_of_the_wrong_kind_or_unreadable_are_named(tmp_path):
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), tmp_path / "vgg.pth")
    with pytest.raises(CheckpointError, match=r"vgg\.pth: not the expected backbone weights"):
        PerceptualLoss("hrf", pretrained=True, weights_path=str(tmp_path / "vgg.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pth: cannot read backbone weights"):
        PerceptualLoss("vgg", pretrained=True, weights_path=str(tmp_path / "junk.pth"))


@pytest.mark.parametrize("backbone", ["hrf", "vgg", "lpips"])
def test_perceptual_is_zero_for_identical_images_and_differentiable(backbone):
    torch.manual_seed(0)
    loss = PerceptualLoss(backbone, pretrained=False)
    batch = _batch()
    assert loss({"image": batch["image"]}, batch).item() == pytest.approx(0.0, abs=1e-6)
    x = (batch["image"] * 0.5).requires_grad_(True)
    d = loss({"image": x}, batch)
    d.backward()
    assert d.item() > 0 and x.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in loss.net.parameters())


def test_discriminator_feature_matching_prefers_the_closer_image():
    """`stylegan2_d`: L1 between the bundled scenes64 discriminator's block features, the offline perceptual term."""
    from mminvert import load_generator

    loss = PerceptualLoss("stylegan2_d", pretrained=True, weights_path="scenes64")
    G = load_generator("scenes64")
    with torch.no_grad():
        x, y = G(torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(0)), noise_mode="const").chunk(2)
    assert loss.distance(x, x).item() == pytest.approx(0.0, abs=1e-6)
    near = loss.distance(x, (x + 0.05 * torch.randn_like(x)).clamp(-1, 1))
    assert 0 < near < loss.distance(x, y)  # a slightly noisy copy is closer than another scene
    xs = x.clone().requires_grad_(True)
    loss.distance(xs, y).backward()
    assert xs.grad.abs().sum() > 0 and all(not p.requires_grad for p in loss.net.parameters())
    assert loss.distance(x[:, :, ::2, ::2], y[:, :, ::2, ::2]) > 0  # the multi-scale term's smaller images
    assert not any(k.startswith("net.") for k in loss.state_dict())  # rebuilt on load, never checkpointed
    with pytest.raises(ValueError, match="no random-weight mode"):
        PerceptualLoss("stylegan2_d", pretrained=False)


def test_frozen_backbones_stay_out_of_checkpoints_and_random_ones_are_reproducible():
    terms = {"perceptual": {"_target_": "mminvert.losses.PerceptualLoss", "backbone": "vgg", "pretrained": False,
                            "weight": 1.0},
             "ms": {"_target_": "mminvert.losses.MultiScaleLoss", "weight": 1.0, "perceptual": 1.0},
             "adversarial": {"_target_": "mminvert.losses.NonSaturatingAdversarial", "weight": 0.1, "width": 8}}
    rng_before = torch.random.get_rng_state()
    PerceptualLoss("hrf", pretrained=False)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the seeded build leaves the caller's stream
    a = InpaintingLoss(terms)
    torch.manual_seed(123)
    b = InpaintingLoss(terms)
    for pa, pb in zip(a.terms["perceptual"].net.parameters(), b.terms["perceptual"].net.parameters()):
        assert torch.equal(pa, pb)
    assert sum(1 for _ in a.terms["perceptual"].net.parameters()) == 32  # the VGG-19 taps are really there
    assert not [k for k in a.state_dict() if "perceptual" in k] and "terms.adversarial.discriminator.net.0.bias" in a.state_dict()
    b.load_state_dict(a.state_dict(), strict=True)
    # an older checkpoint that still carries the backbone loads strictly, and unrelated gaps still fail
    assert a.terms["perceptual"].net.state_dict() == {}
    b.load_state_dict({**a.state_dict(), **{f"terms.perceptual.net.{k}": v for k, v in  # an older checkpoint
                                            a.terms["perceptual"].net.named_parameters()}}, strict=True)
    with pytest.raises(RuntimeError, match=r"Missing key.*discriminator"):  # other gaps are still errors
        b.load_state_dict({}, strict=True)


def test_patch_discriminator_shape_locality_and_spectral_norm():
    torch.manual_seed(0)
    d = PatchDiscriminator(4, width=8)
    assert d(torch.randn(2, 4, 64, 64)).shape == (2, 1, 6, 6)
    # patch logits: logit j sees input columns 8j − 23 ... 8j + 46, so a change in pixel (0, 0) reaches j ≤ 2 only
    x = torch.randn(1, 4, 128, 128)
    y = x.clone()
    y[..., 0, 0] += 5.0
    with torch.no_grad():
        a, b = d.eval()(x), d(y)  # eval: no power iteration between the two calls
    assert a.shape == (1, 1, 14, 14) and (a[..., 0, 0] - b[..., 0, 0]).abs() > 1e-6
    assert torch.equal(a[..., 3:, :], b[..., 3:, :]) and torch.equal(a[..., :, 3:], b[..., :, 3:])
    # all five convs are spectrally normalised: after some power iterations their largest singular value is 1
    d.train()
    for _ in range(30):
        d(x)
    convs = [m for m in d.net if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5
    for conv in convs:
        assert torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item() == pytest.approx(1.0, abs=0.02)


class _LinearD(torch.nn.Module):
    """D(x) = Σ a ⊙ x, so ∇_x D = a and R1 = γ/2 ‖a‖²."""

    def __init__(self, shape):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(shape))

    def forward(self, x):
        return (x * self.a).sum(dim=[1, 2, 3])


def test_adversarial_losses_and_r1_match_hand_computation():
    batch = _batch(8)
    d = _LinearD((4, 8, 8))
    adv = NonSaturatingAdversarial(weight=0.1, discriminator=d, edge_input=True, r1_gamma=2.0, r1_interval=4,
                                   edge_source="prediction")
    fake = batch["image"] * 0.3
    out = {"image": fake, "edge": [None, None, torch.zeros(2, 1, 8, 8)]}
    fake_in = torch.cat([fake, torch.full((2, 1, 8, 8), 0.5)], 1)  # σ(0) = 0.5
    torch.testing.assert_close(adv(out, batch), F.softplus(-d(fake_in)).mean())
    losses = adv.discriminator_loss(out, batch, step=8)
    real_in = torch.cat([batch["image"], batch["edge"]], 1)
    torch.testing.assert_close(losses["d_real"], F.softplus(-d(real_in)).mean())
    torch.testing.assert_close(losses["d_fake"], F.softplus(d(fake_in)).mean())
    torch.testing.assert_close(losses["r1"], 2.0 / 2 * d.a.square().sum() * 4)
    assert "r1" not in adv.discriminator_loss(out, batch, step=9)  # lazy: only every 4th step
    # the discriminator's loss trains D only; the generator's loss reaches the output
    fake = fake.clone().requires_grad_(True)
    out = dict(out, image=fake)
    sum(adv.discriminator_loss(out, batch, step=8).values()).backward()
    assert fake.grad is None and d.a.grad.abs().sum() > 0
    adv(out, batch).backward()
    assert fake.grad.abs().sum() > 0


def test_sobel_edges_range_and_a_step_edge():
    img = -torch.ones(1, 3, 8, 8)
    img[..., 4:] = 1.0  # black left half, white right half
    e = sobel_edges(img)
    assert e.shape == (1, 1, 8, 8) and e.min() >= 0 and e.max() <= 1
    torch.testing.assert_close(e[..., 3:5], torch.ones(1, 1, 8, 2), atol=1e-3, rtol=0)  # the step
    assert e[..., :2].max() < 0.01 and e[..., 6:].max() < 0.01  # flat regions


def test_discriminator_sees_the_same_kind_of_edge_map_for_real_and_fake():
    batch = _batch(16)
    d = _LinearD((4, 16, 16))
    adv = NonSaturatingAdversarial(discriminator=d, edge_input=True)
    assert adv.edge_source == "image"
    out = {"image": batch["image"].clone(), "edge": [torch.randn(2, 1, 16, 16)] * 3}  # prediction is ignored
    real, fake = adv._real_input(batch), adv._fake_input(out, batch, detach=True)
    assert torch.equal(real, fake)
    torch.testing.assert_close(real[:, 3:], sobel_edges(batch["image"]))
    # the generator's gradient reaches the output through its edge map: a D that reads only the edge channel
    with torch.no_grad():
        d.a[:3] = 0
    fake_image = (batch["image"] * 0.5).requires_grad_(True)
    adv({"image": fake_image}, batch).backward()
    assert fake_image.grad.abs().sum() > 0
    # R1 is taken w.r.t. the real image (through its edge map): with D reading edges only it is still > 0
    assert adv.discriminator_loss(out, batch, step=0)["r1"] > 0
    with pytest.raises(ValueError, match="edge_source"):
        NonSaturatingAdversarial(edge_source="canny")


def test_multiscale_loss_terms():
    batch = _batch(32, k=4)
    sizes = (8, 16, 32)
    perfect = {"rgb": [F.interpolate(batch["image"], size=s, mode="area") for s in sizes],
               "edge": [None] * 3, "seg": [None] * 3}
    assert MultiScaleLoss(perceptual=0)(perfect, batch).item() == pytest.approx(0.0, abs=1e-6)
    edge_logits = [torch.zeros(2, 1, s, s) for s in sizes]
    seg_logits = [torch.zeros(2, 4, s, s) for s in sizes]
    out = dict(perfect, edge=edge_logits, seg=seg_logits)
    plain, balanced = 0.0, 0.0
    for s in sizes:
        e = F.interpolate(batch["edge"], size=s, mode="area")
        plain += F.binary_cross_entropy_with_logits(torch.zeros_like(e), e) + math.log(4)  # uniform CE = log K
        beta = (1 - e).mean(dim=(1, 2, 3), keepdim=True)  # σ(0) = 1/2: every pixel costs log 2 times its weight
        balanced += (math.log(2) * (beta * e + (1 - beta) * (1 - e))).mean() + math.log(4)
    torch.testing.assert_close(MultiScaleLoss(perceptual=0)(out, batch), balanced, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(MultiScaleLoss(perceptual=0, edge_loss="plain")(out, batch), plain, atol=1e-5,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="edge_loss"):
        MultiScaleLoss(edge_loss="weighted")


def test_balanced_edge_bce_matches_hand_computation():
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 0.0]]], [[[3.0, -3.0], [0.0, 1.0]]]])
    target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    # image 0: 1 edge pixel of 4 -> edge weight β = 3/4, non-edge weight 1/4; image 1 has no edges -> 0
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731 - softplus: −log σ(x) = sp(−x), −log(1 − σ(x)) = sp(x)
    image0 = (0.75 * sp(-0.0) + 0.25 * (sp(2.0) + sp(-1.0) + sp(0.0))) / 4
    got = balanced_bce_with_logits(logits, target)
    assert got.item() == pytest.approx((image0 + 0.0) / 2, rel=1e-6)
    # {0, 1} targets: MMT's bce2d (positives weighted by the negative fraction and vice versa, mean reduction)
    # computed per image
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(1, 1, 8, 8, generator=g), (torch.rand(1, 1, 8, 8, generator=g) > 0.8).float()
    pos = t.mean()
    w = torch.where(t > 0, 1 - pos, pos)
    torch.testing.assert_close(balanced_bce_with_logits(x, t), F.binary_cross_entropy(torch.sigmoid(x), t, w))


def test_balanced_edge_bce_does_not_reward_predicting_no_edges():
    t = torch.zeros(1, 1, 16, 16)
    t[..., 8, :] = 1  # one edge row: 1/16 of the pixels
    none, right = torch.full_like(t, -4.0), (t * 8 - 4)
    unsure = torch.zeros_like(t)  # σ = 1/2 everywhere
    # plain BCE prefers a confident "no edge anywhere" to being unsure; the balanced one does not
    assert F.binary_cross_entropy_with_logits(none, t) < F.binary_cross_entropy_with_logits(unsure, t)
    assert balanced_bce_with_logits(none, t) > balanced_bce_with_logits(unsure, t)
    assert balanced_bce_with_logits(none, t) > 2 * balanced_bce_with_logits(right, t)


def test_fidelity_loss():
    ws, w_mean = torch.randn(2, 8, 16), torch.randn(16)
    torch.testing.assert_close(FidelityLoss()({"ws": ws, "w_mean": w_mean}, {}), ((ws - w_mean) ** 2).mean())
    # by hand: codes (1, 1) and (1, 1) against w̄ = (0, 3): squares 1, 4, 1, 4 -> mean 2.5
    ws = torch.ones(1, 2, 2, requires_grad=True)
    value = FidelityLoss()({"ws": ws, "w_mean": torch.tensor([0.0, 3.0])}, {})
    assert value.item() == pytest.approx(2.5)
    value.backward()  # d/dws mean((ws − w̄)²) = 2 (ws − w̄) / 4
    torch.testing.assert_close(ws.grad, torch.tensor([[[0.5, -1.0], [0.5, -1.0]]]))
    assert FidelityLoss()({"ws": torch.ones(1, 2, 2), "w_mean": torch.ones(2)}, {}).item() == 0.0


def test_composite_skips_weight_zero_terms_and_sums(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no backbone weights anywhere
    terms = {
        "valid": {"_target_": "mminvert.losses.MaskedL1", "region": "valid", "weight": 1.0},
        "hole": {"_target_": "mminvert.losses.MaskedL1", "region": "hole", "weight": 6.0},
        "perceptual": {"_target_": "mminvert.losses.PerceptualLoss", "backbone": "hrf", "pretrained": True,
                       "weight": 0.0},  # weight 0: never built, so the missing weights do not matter
        "fidelity": {"_target_": "mminvert.losses.FidelityLoss", "weight": 0.5},
        "adversarial": None,
    }
    loss = InpaintingLoss(terms)
    assert set(loss.terms) == {"valid", "hole", "fidelity"} and loss.adversarial is None
    batch = _batch()
    out = {"image": batch["image"] + 0.2, "ws": torch.ones(2, 8, 4), "w_mean": torch.zeros(4)}
    got = loss(out, batch)
    assert set(got) == {"valid", "hole", "fidelity", "total"}
    torch.testing.assert_close(got["hole"], 6.0 * MaskedL1("hole")(out, batch))
    torch.testing.assert_close(got["valid"], MaskedL1("valid")(out, batch))
    assert got["fidelity"].item() == pytest.approx(0.5)  # 0.5 · mean((1 − 0)²)
    torch.testing.assert_close(got["total"], got["valid"] + got["hole"] + got["fidelity"])
    # each weighted term's gradient reaches only what it reads: the image (L1) and the codes (fidelity)
    image, ws = out["image"].clone().requires_grad_(True), out["ws"].clone().requires_grad_(True)
    loss({**out, "image": image, "ws": ws}, batch)["total"].backward()
    m = batch["mask"]
    torch.testing.assert_close(image.grad, (m + 6.0 * (1 - m)).expand_as(image) / image.numel())  # ŷ − y = +0.2
    torch.testing.assert_close(ws.grad, torch.full_like(ws, 0.5 * 2 / ws.numel()))


def test_multiscale_without_perceptual_term_skips_that_part(caplog):
    loss = InpaintingLoss({"ms": {"_target_": "mminvert.losses.MultiScaleLoss", "weight": 1.0, "perceptual": 1.0}})
    assert "skipped" in caplog.text
    batch = _batch(32)
    out = {"rgb": [F.interpolate(batch["image"], size=s, mode="area") for s in (8, 16, 32)]}
    assert loss(out, batch)["ms"].item() == pytest.approx(0.0, abs=1e-6)
