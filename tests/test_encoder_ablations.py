"""Ablation switches of the multi-modal guided encoder (paper Tables 5–8): each switch changes the
modules that exist, the input channels or the computation, and every combination the tables need builds."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mminvert.encoder import (
    AOTBlock,
    Bottleneck,
    GMABlock,
    MaskGatedPatchAttention,
    MultiModalGuidedEncoder,
    ResBlock,
)
from tests.test_model_configs import _batch as _model_batch
from tests.test_model_configs import _model

CONF_MODEL = Path(__file__).resolve().parents[1] / "conf" / "model"
CH = (8, 16, 16, 16)


def _n(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _batch(size=32, k=5, b=2):
    g = torch.Generator().manual_seed(3)
    return dict(image=torch.rand(b, 3, size, size, generator=g) * 2 - 1,
                mask=(torch.rand(b, 1, size, size, generator=g) > 0.5).float(),
                seg=torch.randint(0, k, (b, size, size), generator=g),
                edge=(torch.rand(b, 1, size, size, generator=g) > 0.9).float())


def _encoder(**kw) -> MultiModalGuidedEncoder:
    torch.manual_seed(0)
    kw = {"num_classes": 5, "channels": CH, "bottleneck": dict(depth=1), "heads": 2, **kw}
    return MultiModalGuidedEncoder(**kw)


# ------------------------------------------------------------------------------------ attention (Table 5, 7)
def test_gma_without_attention_is_fused_ffn():
    torch.manual_seed(0)
    block = GMABlock(16, 6, "adn", heads=4, patch_sizes=(2, 4), attention=False)
    full = GMABlock(16, 6, "adn", heads=4, patch_sizes=(2, 4))
    assert block.attention is None and block.fuse_attn is None
    assert not any(isinstance(m, MaskGatedPatchAttention) for m in block.modules())
    assert _n(full) - _n(block) == _n(full.attention) + _n(full.fuse_attn)
    x, a, mask = torch.randn(2, 16, 8, 8), torch.randn(2, 6, 8, 8), torch.ones(2, 1, 32, 32)
    torch.testing.assert_close(block(x, a, mask), x + block.ffn(block.fuse_ffn(x, a)))  # y = x + FFN(Fuse(x, a))
    # the auxiliary features still matter
    assert (block(x, a, mask) - block(x, torch.zeros_like(a), mask)).abs().max() > 1e-4


def test_encoder_attention_switch():
    on, off = _encoder(), _encoder(attention=False)
    assert off.config["attention"] is False and on.config["attention"] is True
    assert sum(isinstance(m, MaskGatedPatchAttention) for m in on.modules()) == 3
    assert not any(isinstance(m, MaskGatedPatchAttention) for m in off.modules())
    assert _n(off) < _n(on)
    out = off(_batch())
    assert out["rgb"][2].shape == (2, 3, 32, 32) and out["seg"][0].shape == (2, 5, 8, 8)


@pytest.mark.parametrize("fusion", ["conv", "adain", "spade"])
def test_mmt_rows_build_and_run(fusion):
    """Table 7, MMT-1..3: biased guidance, no attention, concat (= conv) / AdaIN / SPADE fusion."""
    model = _model("model/generator=random64", "model.encoder.guidance=biased", "model.encoder.attention=false",
                   f"model.encoder.fusion={fusion}", "model.encoder.bottleneck.depth=1")
    assert all(g.attention is None for g in model.encoder.decoder.gma)
    kinds = {"conv": "ConvFusion", "adain": "AdaINFusion", "spade": "SPADEFusion"}
    assert all(type(g.fuse_ffn).__name__ == kinds[fusion] for g in model.encoder.decoder.gma)
    with torch.no_grad():
        out = model(_model_batch(64))
    assert out["composite"].shape == (2, 3, 64, 64) and torch.isfinite(out["image"]).all()


# ------------------------------------------------------------------------------------ modalities (Table 6)
@pytest.mark.parametrize("modalities, k, in_ch, struct_ch", [
    (["seg", "edge"], 5, 4 + 6 + 2, 3 + 1 + 5),
    (["edge"], 0, 4 + 2, 3 + 1),
    (["edge"], 5, 4 + 2, 3 + 1),
    (["seg"], 5, 4 + 6, 3 + 5),
    ([], 0, 4, 3),
])
def test_modalities_set_inputs_branches_heads(modalities, k, in_ch, struct_ch):
    enc = _encoder(num_classes=k, modalities=modalities, fusion="adn" if modalities else "none")
    assert enc.backbone.stem.conv.in_channels == in_ch
    dec = enc.decoder
    assert hasattr(dec, "edge_stages") == ("edge" in modalities) and hasattr(dec, "seg_stages") == ("seg" in modalities)
    assert all((h.edge is not None) == ("edge" in modalities) for h in dec.heads)
    assert all((h.seg is not None) == ("seg" in modalities) for h in dec.heads)
    assert dec.structure_channels == struct_ch and enc.use_aux == bool(modalities)
    out = enc(_batch())
    for i, s in enumerate((8, 16, 32)):
        assert (out["edge"][i] is None) == ("edge" not in modalities)
        assert (out["seg"][i] is None) == ("seg" not in modalities)
        assert out["structure"][i].shape == (2, struct_ch, s, s)
    # unbiased guidance = the present branches' features: the fusion reads n_branches × aux width
    if modalities:
        assert dec.gma[0].fuse_attn.embed.in_channels == len(modalities) * dec.aux_channels[0]
    else:
        assert type(dec.gma[0].fuse_attn).__name__ == "NoFusion"


@pytest.mark.parametrize("guidance", ["biased", "gt"])
@pytest.mark.parametrize("modalities, width", [(["seg", "edge"], 6), (["edge"], 1), (["seg"], 5)])
def test_map_guidance_holds_only_present_maps(guidance, modalities, width):
    enc = _encoder(modalities=modalities, guidance=guidance)
    assert all(g.fuse_attn.embed.in_channels == width for g in enc.decoder.gma)
    batch = _batch()
    if "seg" not in modalities:
        del batch["seg"]  # gt guidance needs only the present modalities' maps
    if "edge" not in modalities:
        del batch["edge"]
    assert enc(batch)["rgb"][2].shape == (2, 3, 32, 32)


def test_encoder_reads_only_its_modalities():
    enc = _encoder(num_classes=0, modalities=["edge"]).eval()
    batch = _batch()
    with torch.no_grad():
        base = enc(batch)["rgb"][2]
        other_seg = enc({**batch, "seg": torch.zeros_like(batch["seg"])})["rgb"][2]
        other_edge = enc({**batch, "edge": 1 - batch["edge"]})["rgb"][2]
    torch.testing.assert_close(other_seg, base, rtol=0, atol=0)
    assert (other_edge - base).abs().max() > 1e-5


def test_use_aux_is_accepted_and_checked():
    assert _encoder(use_aux=True).modalities == ["seg", "edge"] == _encoder().modalities
    old, new = _encoder(num_classes=0, use_aux=False, fusion="none"), _encoder(num_classes=0, modalities=[], fusion="none")
    assert {k: v.shape for k, v in old.state_dict().items()} == {k: v.shape for k, v in new.state_dict().items()}
    assert old.config == new.config and "use_aux" not in old.config
    assert _encoder(modalities=["edge", "seg"]).modalities == ["seg", "edge"]  # input order is fixed
    with pytest.raises(ValueError, match="contradicts"):
        _encoder(use_aux=False, modalities=["edge"])
    with pytest.raises(ValueError, match="modalities must be"):
        _encoder(modalities=["depth"])
    with pytest.raises(ValueError, match="num_classes=0"):
        _encoder(num_classes=0, modalities=["seg"])


def test_edge_only_model_config_runs():
    model = _model("model/generator=random64", "model.encoder.modalities=[edge]", "model.encoder.num_classes=0",
                   "model.encoder.bottleneck.depth=1")
    first_conv = next(m for m in model.map2structure[0].modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 3 + 1  # map2structure reads P_s = cat(ŷ_s, σ(ê_s))
    with torch.no_grad():
        out = model(_model_batch(64))
    assert out["seg"] == [None, None, None] and out["edge"][2].shape == (2, 1, 64, 64)


# ------------------------------------------------------------------------------------ GMA gate
def _hole_to_hole_weight(gate: str) -> list[float]:
    torch.manual_seed(0)
    attn = MaskGatedPatchAttention(16, heads=4, patch_sizes=(2, 4), gate=gate)
    attn.keep_attention = True
    x = torch.randn(1, 16, 8, 8)
    mask = torch.ones(1, 1, 32, 32)
    mask[..., :, :16] = 0  # left half a hole: its key and query tokens are fully masked
    attn(x, x, mask)
    weights = []
    for p, a in zip((2, 4), attn.last_attention):
        hole = (torch.arange(a.shape[-1]) % (8 // p)) < (8 // p) // 2  # token order is row-major
        weights.append(a[..., hole, :][..., hole].sum(-1).min().item())  # per hole query: mass on hole keys
    return weights


def test_learned_gate_lets_holes_attend_to_holes():
    assert min(_hole_to_hole_weight("learned")) > 0.05
    assert max(_hole_to_hole_weight("known_fraction")) < 1e-4
    with pytest.raises(ValueError, match="attention gate"):
        MaskGatedPatchAttention(16, gate="fraction")


def test_encoder_gate_switch_reaches_every_gma_block():
    for gate in ("learned", "known_fraction"):
        enc = _encoder(gate=gate)
        assert enc.config["gate"] == gate and all(g.attention.gate_mode == gate for g in enc.decoder.gma)
    assert _encoder().config["gate"] == "learned"  # the paper's gate is the default


# ------------------------------------------------------------------------------------ g₀ into the ACB
def test_use_g0_first_acb_block_gates_with_g0():
    torch.manual_seed(0)
    b = Bottleneck(16, "acb", depth=2, use_g0=True)
    old = Bottleneck(16, "acb", depth=2, use_g0=False)
    assert b.blocks[0].gate is None and isinstance(b.blocks[1].gate, torch.nn.Conv2d)
    assert _n(old) - _n(b) == 16 * 16 * 9 + 16
    f, g0 = torch.randn(2, 16, 4, 4), torch.rand(2, 16, 4, 4)
    # the first block's m_0 is g₀: g₀ = 0 keeps f (up to act∘norm), g₀ = 1 takes the context
    blk = b.blocks[0]
    torch.testing.assert_close(blk(f, torch.zeros_like(g0)), blk.act(blk.norm(f)))
    assert (b(f, g0) - b(f, torch.rand(2, 16, 4, 4))).abs().max() > 1e-4
    torch.testing.assert_close(old(f, g0), old(f, torch.rand(2, 16, 4, 4)), rtol=0, atol=0)  # use_g0=false ignores g₀


@pytest.mark.parametrize("kind", ["res", "aot"])
def test_use_g0_is_ignored_by_res_and_aot(kind):
    torch.manual_seed(0)
    a = Bottleneck(16, kind, depth=2, use_g0=True)
    torch.manual_seed(0)
    b = Bottleneck(16, kind, depth=2, use_g0=False)
    assert _n(a) == _n(b) and not a.use_g0
    f = torch.randn(1, 16, 4, 4)
    torch.testing.assert_close(a(f, torch.rand(1, 16, 4, 4)), b(f), rtol=0, atol=0)


def test_encoder_passes_backbone_g0_to_bottleneck():
    enc = _encoder(bottleneck=dict(depth=2, use_g0=True))
    seen = {}
    enc.backbone.register_forward_hook(lambda m, i, o: seen.update(g0=o[1]))
    enc.bottleneck.register_forward_hook(lambda m, i, o: seen.update(args=i))
    enc(_batch())
    assert len(seen["args"]) == 2 and seen["args"][1] is seen["g0"]
    assert enc.config["bottleneck"]["use_g0"] is True and enc.bottleneck.blocks[0].gate is None


# ------------------------------------------------------------------------------------ bottleneck width (Table 8)
def test_res_and_aot_inner_width():
    res, aot = ResBlock(16, width=40), AOTBlock(16, width=24)
    assert res.body[0].out_channels == 40 and res.body[3].in_channels == 40
    assert [p[0].out_channels for p in aot.paths] == [6] * 4 and aot.fuse.in_channels == 24
    x = torch.randn(1, 16, 5, 5)
    assert res(x).shape == aot(x).shape == x.shape
    assert _n(Bottleneck(16, "res", 2, width=40)) > _n(Bottleneck(16, "res", 2))
    assert _n(Bottleneck(16, "acb", 2, width=40)) == _n(Bottleneck(16, "acb", 2))  # acb ignores width
    with pytest.raises(ValueError, match="cannot be split"):
        AOTBlock(16, width=18)
    with pytest.raises(ValueError, match="width"):
        Bottleneck(16, "res", 2, width=0)


@pytest.mark.parametrize("channels, depth, res_width, aot_width, conf", [
    (64, 2, 145, 112, "mminvertfill.yaml"),     # CPU preset
    (256, 8, 624, 496, "mminvertfill_256.yaml"),  # paper scale
])
def test_matched_widths_give_acb_parameter_count(channels, depth, res_width, aot_width, conf):
    acb = _n(Bottleneck(channels, "acb", depth))
    for kind, width in (("res", res_width), ("aot", aot_width)):
        n = _n(Bottleneck(channels, kind, depth, width=width))
        assert abs(n - acb) / acb < 0.05, (kind, n, acb)
        assert abs(_n(Bottleneck(channels, kind, depth)) - acb) / acb > 0.3  # unmatched: far off
    text = (CONF_MODEL / conf).read_text()  # the widths documented in the preset are these
    assert f"res width {res_width}" in text and f"aot width {aot_width}" in text
