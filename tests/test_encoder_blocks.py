"""Blocks of the multi-modal guided encoder: shapes at two resolutions and the paper's formulas."""
import pytest
import torch

from mminvert.encoder import (
    ADN,
    ACBBlock,
    AOTBlock,
    Bottleneck,
    DownBackbone,
    GatedConv2d,
    GMABlock,
    MaskGatedPatchAttention,
    MultiModalGuidedEncoder,
    ResBlock,
    build_fusion,
    encoder_input,
    one_hot_seg,
)

torch.manual_seed(0)


@pytest.mark.parametrize("size", [32, 48])
def test_gated_conv_and_backbone_shapes(size):
    g = GatedConv2d(5, 8, 7)
    out, gate = g(torch.randn(2, 5, size, size), return_gate=True)
    assert out.shape == gate.shape == (2, 8, size, size) and 0 < gate.min() and gate.max() < 1
    bb = DownBackbone(5, (8, 12, 16, 24))
    f0, g0, skips = bb(torch.randn(2, 5, size, size))
    assert f0.shape == g0.shape == (2, 24, size // 8, size // 8)
    assert [tuple(s.shape[1:]) for s in skips] == [(8, size, size), (12, size // 2, size // 2), (16, size // 4, size // 4)]
    with pytest.raises(ValueError, match="divisible by 8"):
        bb(torch.randn(1, 5, 36, 36))


@pytest.mark.parametrize("size", [4, 7])
@pytest.mark.parametrize("block", [lambda: ACBBlock(16), lambda: ResBlock(16), lambda: AOTBlock(16)])
def test_bottleneck_blocks_keep_shape(block, size):
    assert block()(torch.randn(2, 16, size, size)).shape == (2, 16, size, size)


def test_acb_with_zero_gate_reduces_to_act_norm():
    acb = ACBBlock(8)
    with torch.no_grad():
        acb.gate.weight.zero_()
        acb.gate.bias.fill_(-1e4)  # σ(-1e4) = 0 exactly in float32: m_t ≡ 0
    f = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(acb(f), acb.act(acb.norm(f)))


def test_acb_with_full_gate_is_weighted_sum_of_paths():
    acb = ACBBlock(8, rates=(1, 2))
    with torch.no_grad():
        acb.gate.weight.zero_()
        acb.gate.bias.fill_(1e4)  # m_t ≡ 1
        for w in acb.weights:  # equal logits -> α = 1/2 for each path
            w.weight.zero_()
            w.bias.zero_()
    f = torch.randn(1, 8, 5, 5)
    paths = [torch.relu(c(f)) for c in acb.paths]
    torch.testing.assert_close(acb(f), acb.act(acb.norm(0.5 * paths[0] + 0.5 * paths[1])))


def test_bottleneck_types_and_validation():
    g0 = torch.rand(1, 16, 4, 4)
    for t in ("acb", "res", "aot"):
        b = Bottleneck(16, type=t, depth=2)
        assert len(b.blocks) == 2 and b(torch.randn(1, 16, 4, 4), g0).shape == (1, 16, 4, 4)
    with pytest.raises(ValueError, match="needs the backbone's gate"):
        Bottleneck(16, type="acb", depth=2)(torch.randn(1, 16, 4, 4))
    with pytest.raises(ValueError, match="bottleneck type"):
        Bottleneck(16, type="transformer")


def test_adn_formula_and_zero_aux_reduction():
    adn = ADN(6, 4)
    with torch.no_grad():
        for p in adn.parameters():
            p.normal_()
    x = torch.randn(2, 6, 5, 5)
    ln = torch.nn.functional.group_norm(x, 1, eps=adn.norm.eps)
    # zero auxiliary features: e = 0, γ(e) = b_γ, β([x, 0]) = W_βx x + b_β
    beta_x = torch.nn.functional.conv2d(x, adn.beta.weight[:, :6]) + adn.beta.bias.view(1, -1, 1, 1)
    expected = ln * adn.gamma.bias.view(1, -1, 1, 1) + beta_x
    torch.testing.assert_close(adn(x, torch.zeros(2, 4, 5, 5)), expected)
    # freshly built ADN (β ignores x at init): exactly LN scaled by the γ bias plus the β bias
    fresh = ADN(6, 4)
    with torch.no_grad():
        fresh.gamma.bias.uniform_(0.5, 2.0)
    expected = ln * fresh.gamma.bias.view(1, -1, 1, 1) + fresh.beta.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(fresh(x, torch.zeros(2, 4, 5, 5)), expected)


@pytest.mark.parametrize("kind", ["adn", "add", "conv", "adain", "spade", "none"])
def test_fusions_shapes(kind):
    f = build_fusion(kind, 8, 0 if kind == "none" else 3)
    assert f(torch.randn(2, 8, 6, 6), torch.randn(2, 3, 6, 6)).shape == (2, 8, 6, 6)
    with pytest.raises(ValueError, match="fusion must be"):
        build_fusion("film", 8, 3)


def test_known_fraction_gate_gives_zero_weight_to_fully_masked_keys():
    attn = MaskGatedPatchAttention(16, heads=4, patch_sizes=(2, 4), gate="known_fraction")
    attn.keep_attention = True
    x = torch.randn(1, 16, 8, 8)
    mask = torch.ones(1, 1, 32, 32)
    mask[..., :, :16] = 0  # left half of the image is a hole: keys in the left half are fully masked
    out = attn(x, x, mask)
    assert out.shape == x.shape
    for p, a in zip((2, 4), attn.last_attention):
        # key tokens are patches in row-major order over (8/p) x (8/p); left-half columns are masked
        cols = torch.arange(a.shape[-1]) % (8 // p)
        masked = cols < (8 // p) // 2
        assert a[..., masked].sum(-1).max() < 1e-4
        torch.testing.assert_close(a.sum(-1), torch.ones_like(a.sum(-1)))
    # the fast path (scaled_dot_product_attention) gives the same output
    attn.keep_attention = False
    torch.testing.assert_close(attn(x, x, mask), out, atol=1e-5, rtol=1e-5)


def test_gma_all_hole_input_stays_finite():
    block = GMABlock(16, 6, "adn", heads=4, patch_sizes=(2, 4))
    y = block(torch.randn(2, 16, 8, 8), torch.randn(2, 6, 8, 8), torch.zeros(2, 1, 32, 32))
    assert y.shape == (2, 16, 8, 8) and torch.isfinite(y).all()


def test_one_hot_ignores_255_and_rejects_bad_labels():
    seg = torch.tensor([[[0, 2], [255, 1]]])
    oh = one_hot_seg(seg, 3)
    assert oh.shape == (1, 3, 2, 2)
    assert oh[0, :, 1, 0].sum() == 0 and oh[0, 2, 0, 1] == 1
    with pytest.raises(ValueError, match="num_classes"):
        one_hot_seg(torch.tensor([[[5]]]), 3)


def _batch(size, k=5, b=2):
    return dict(image=torch.rand(b, 3, size, size) * 2 - 1, mask=(torch.rand(b, 1, size, size) > 0.5).float(),
                seg=torch.randint(0, k, (b, size, size)), edge=(torch.rand(b, 1, size, size) > 0.9).float())


def test_encoder_input_masks_each_modality():
    batch = _batch(16)
    batch["mask_seg"] = torch.zeros(2, 1, 16, 16)  # segmentation withheld
    x = encoder_input(batch, 5, ("seg", "edge"))
    assert x.shape == (2, 3 + 1 + 5 + 1 + 1 + 1, 16, 16)
    torch.testing.assert_close(x[:, :3], batch["image"] * batch["mask"])
    assert x[:, 4:10].abs().sum() == 0  # one-hot and its mask are zero
    torch.testing.assert_close(x[:, 10:11], batch["edge"] * batch["mask"])
    assert encoder_input(batch, 5, ()).shape == (2, 4, 16, 16)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("guidance", ["unbiased", "biased", "gt"])
def test_encoder_outputs_at_two_resolutions(size, guidance):
    enc = MultiModalGuidedEncoder(5, True, (8, 16, 16, 16), dict(depth=1), "adn", guidance, heads=2)
    out = enc(_batch(size))
    for i, s in enumerate((size // 4, size // 2, size)):
        assert out["rgb"][i].shape == (2, 3, s, s) and out["rgb"][i].abs().max() <= 1
        assert out["edge"][i].shape == (2, 1, s, s) and out["seg"][i].shape == (2, 5, s, s)
        assert out["structure"][i].shape == (2, 9, s, s)
        assert out["features"][i].shape[-1] == s
    rgb_only = MultiModalGuidedEncoder(0, False, (8, 16, 16, 16), dict(depth=1), "none")(_batch(size))
    assert rgb_only["edge"][0] is None and rgb_only["structure"][2].shape == (2, 3, size, size)


def test_gt_guidance_needs_ground_truth():
    enc = MultiModalGuidedEncoder(5, True, (8, 16, 16, 16), dict(depth=1), "adn", "gt", heads=2)
    batch = _batch(32)
    del batch["edge"]
    with pytest.raises((ValueError, KeyError)):
        enc(batch)


def test_invalid_guidance():
    with pytest.raises(ValueError, match="guidance"):
        MultiModalGuidedEncoder(5, True, (8, 16, 16, 16), dict(depth=1), "adn", "oracle")


def test_attention_patch_divisibility_error():
    attn = MaskGatedPatchAttention(8, heads=2, patch_sizes=(4,))
    with pytest.raises(ValueError, match="patch size 4"):
        attn(torch.randn(1, 8, 6, 6), torch.randn(1, 8, 6, 6), torch.ones(1, 1, 6, 6))
