"""Every model variant config instantiates and runs on a 64 px batch; the 256 px paper preset builds; each ablation
switch (conf/model, conf/ablation/table5..8) changes exactly what it names: the modules that exist, what the
frozen generator receives, how the W+ codes are formed, which inputs the model reads."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mminvert.encoder import (
    ADN,
    ACBBlock,
    AdaINFusion,
    AOTBlock,
    ConvFusion,
    MaskGatedPatchAttention,
    ResBlock,
    SPADEFusion,
)
from mminvert.inversion import MMInvertFill, instance_norm_codes
from mminvert.utils.area import area_resize

CONF = Path(__file__).resolve().parents[1] / "conf"
K = 11  # data.num_classes of the default data (scenes)
# inpainting_tiny's sizes: 32 px random generator (8 style codes), narrow encoder
TINY = ("model/generator=random32", "model.encoder.channels=[8,16,16,16]", "model.encoder.bottleneck.depth=1",
        "model.encoder.heads=2", "model.map_hidden=32", "model.sml.n_samples=16", "model.sml.period=10")


def _model(*overrides: str) -> MMInvertFill:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["task=inpainting", *overrides])
    return instantiate(cfg.model)


def _tiny(*overrides: str) -> MMInvertFill:
    """A 32 px model of the tiny sizes, in eval mode (const generator noise: deterministic outputs)."""
    torch.manual_seed(0)
    return _model(*TINY, *overrides).eval()


def _batch(r: int, k: int = K, b: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return dict(image=torch.rand(b, 3, r, r, generator=g) * 2 - 1, mask=(torch.rand(b, 1, r, r, generator=g) > 0.5).float(),
                seg=torch.randint(0, k, (b, r, r), generator=g), edge=(torch.rand(b, 1, r, r, generator=g) > 0.9).float())


def _n(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _n_trainable(model: MMInvertFill) -> int:
    return sum(p.numel() for p in model.trainable_parameters())


def _keys(model: MMInvertFill, *prefixes: str) -> list[str]:
    return [k for k in model.state_dict() if k.startswith(prefixes)]


def _run(model: MMInvertFill, batch: dict[str, torch.Tensor]) -> dict:
    with torch.no_grad():
        return model(batch)


def _capture_encoder_output(model: MMInvertFill) -> list[dict]:
    seen: list[dict] = []
    model.encoder.register_forward_hook(lambda m, i, o: seen.append(o))
    return seen


def _in_region(batch: dict[str, torch.Tensor], known: bool, seg: bool = True, edge: bool = True) -> dict:
    """The batch with its seg / edge maps changed only where the mask is `known` (1) or a hole (0)."""
    where = batch["mask"] == (1.0 if known else 0.0)
    out = dict(batch)
    if seg:
        out["seg"] = torch.where(where[:, 0], (batch["seg"] + 1) % K, batch["seg"])
    if edge:
        out["edge"] = torch.where(where, 1 - batch["edge"], batch["edge"])
    return out


# ------------------------------------------------------------------------------------ model variants
@pytest.mark.parametrize("variant", ["mminvertfill", "invertfill", "psp"])
def test_variant_configs_run_on_64px(variant):
    model = _model(f"model={variant}", "model/generator=random64").eval()
    assert model.generator.resolution == 64 and not any(p.requires_grad for p in model.generator.parameters())
    batch = _batch(64)
    out = _run(model, batch)
    assert out["image"].shape == (2, 3, 64, 64) and out["ws"].shape == (2, model.generator.num_ws, 128)
    assert (model.skip is None) == (variant == "psp") and (model.premod is None) == (variant == "psp")
    assert (model.sml.tau == 0) == (variant == "psp")
    assert model.encoder.use_aux == (variant == "mminvertfill")
    # the single-modality variants read image and mask only: without seg / edge the output is the same
    without_maps = _run(model, {"image": batch["image"], "mask": batch["mask"]})["image"]
    assert torch.equal(without_maps, out["image"]) == (variant != "mminvertfill")


@pytest.mark.parametrize("switch, effect", [
    ("model.encoder.fusion=spade", lambda m: all(isinstance(g.fuse_ffn, SPADEFusion) for g in m.encoder.decoder.gma)),
    ("model.encoder.guidance=biased", lambda m: m.encoder.decoder.guidance == "biased"),
    ("model.encoder.bottleneck.type=aot", lambda m: all(isinstance(b, AOTBlock) for b in m.encoder.bottleneck.blocks)),
    ("model.encoder.attention=false", lambda m: all(g.attention is None for g in m.encoder.decoder.gma)),
    ("model.encoder.modalities=[edge]", lambda m: m.encoder.modalities == ["edge"]),
    ("model.sml.tau=0", lambda m: m.sml.tau == 0.0),
    ("model.premod=false", lambda m: m.premod is None),
    ("model.skip=false", lambda m: m.skip is None),
])
def test_ablation_switch_survives_the_architecture_round_trip(switch, effect):
    """A switched model is rebuilt from its stored architecture (as checkpoints and bundles do) with the switch,
    the same tensors and the same outputs."""
    model = _tiny(switch)
    assert effect(model)
    batch = _batch(32)
    rebuilt = MMInvertFill.from_architecture(model.architecture()).eval()
    assert effect(rebuilt)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    a, b = _run(model, batch), _run(rebuilt, batch)
    assert a["composite"].shape == (2, 3, 32, 32)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["ws"], b["ws"])


def test_paper_preset_builds_at_256px():
    model = _model("model=mminvertfill_256", "model/generator=random256")
    assert model.generator.resolution == 256 and model.generator.num_ws == 14
    assert model.encoder.config["channels"] == [64, 128, 256, 256] and model.encoder.bottleneck.depth == 8
    n = sum(p.numel() for p in model.trainable_parameters())
    assert 50e6 < n < 150e6  # 85.8 M, see docs/performance.md


# ------------------------------------------------------------------------------------ Table 5
def test_no_fw_row_gives_the_generator_no_features():
    full, no_fw = _tiny("paper/row=table5/full"), _tiny("paper/row=table5/no_fw")
    assert no_fw.skip is None and _keys(no_fw, "skip.") == [] and len(_keys(full, "skip.")) == 6
    assert _n_trainable(full) - _n_trainable(no_fw) == _n(full.skip)  # only the three 1x1 projections go
    received: dict[str, list] = {"full": [], "no_fw": []}
    hooks = [model.generator.synthesis.register_forward_pre_hook(
        lambda m, a, kw, name=name: received[name].append(kw["features"]), with_kwargs=True)
        for name, model in (("full", full), ("no_fw", no_fw))]
    batch = _batch(32)
    out_full, out_no_fw = _run(full, batch), _run(no_fw, batch)
    for h in hooks:
        h.remove()
    assert received["no_fw"] == [None]
    G = full.generator
    assert {r: tuple(f.shape) for r, f in received["full"][0].items()} == {r: (2, G.channels[r], r, r) for r in (8, 16, 32)}
    with torch.no_grad():  # without F&W+ the image is a function of the W+ codes alone
        assert torch.equal(out_no_fw["image"], no_fw.generator.synthesis(out_no_fw["ws"], noise_mode="const"))
        # zero-initialised projections: the full model starts as plain W+ inversion ...
        assert torch.equal(out_full["image"], G.synthesis(out_full["ws"], noise_mode="const"))
        for conv in full.skip.proj:
            conv.weight.normal_(std=0.1)
    trained = _run(full, batch)  # ... and once they are trained, the skip path changes the image, not the codes
    assert torch.equal(trained["ws"], out_full["ws"]) and (trained["image"] - out_full["image"]).abs().max() > 1e-3


def test_no_pm_row_adds_the_map2style_codes_to_the_mean_latent():
    full, no_pm = _tiny("paper/row=table5/full"), _tiny("paper/row=table5/no_pm")
    assert no_pm.premod is None and not hasattr(no_pm, "map2structure")
    assert _keys(no_pm, "premod.", "map2structure.") == [] and _keys(full, "premod.", "map2structure.")
    assert _n_trainable(full) - _n_trainable(no_pm) == _n(full.premod) + _n(full.map2structure)
    batch = _batch(32)
    for model in (full, no_pm):
        enc = _capture_encoder_output(model)
        out = _run(model, batch)
        with torch.no_grad():
            codes = torch.cat([m(f) for m, f in zip(model.map2style, enc[0]["features"])], dim=1)
        if model is no_pm:  # W+ = map2style(F) + w̄, nothing else
            assert torch.equal(out["ws"], codes + model.sml.online)
        else:  # with γ ≡ 1, β ≡ 0 the pre-modulation is IN(map2style(F)): every code zero mean, unit variance
            with torch.no_grad():
                for gamma, beta in zip(model.premod.gamma, model.premod.beta):
                    gamma[2].weight.zero_()
                    gamma[2].bias.fill_(1.0)
                    beta[2].weight.zero_()
                    beta[2].bias.zero_()
            out = _run(model, batch)
            torch.testing.assert_close(out["ws"], instance_norm_codes(codes) + model.sml.online, rtol=0, atol=1e-6)
            w = out["ws"] - model.sml.online
            torch.testing.assert_close(w.mean(-1), torch.zeros(2, 8), rtol=0, atol=1e-5)
            torch.testing.assert_close(w.std(-1, unbiased=False), torch.ones(2, 8), rtol=0, atol=1e-3)
            assert not torch.allclose(out["ws"], codes + model.sml.online, atol=1e-2)
    # the structure maps P_s reach the codes only through the pre-modulation
    for model, reads in ((full, True), (no_pm, False)):
        with torch.no_grad():
            for gamma in model.premod.gamma if model.premod is not None else []:
                gamma[2].weight.normal_(std=0.5)  # γ depends on s again
        base = _run(model, batch)["ws"]
        hook = model.encoder.register_forward_hook(
            lambda m, i, o: {**o, "structure": [torch.rand_like(s) for s in o["structure"]]})
        moved = _run(model, batch)["ws"]
        hook.remove()
        assert torch.equal(moved, base) != reads


@pytest.mark.parametrize("row, moves", [("full", True), ("no_sml", False)])
def test_sml_row_decides_whether_the_mean_latent_moves(row, moves):
    model = _tiny(f"paper/row=table5/{row}")
    assert (model.sml.tau > 0) == moves
    w_avg = model.generator.w_avg.clone()
    assert torch.equal(model.sml.online, w_avg)  # both start at the generator's mean latent
    batch = _batch(32)
    before = _run(model, batch)
    before["w_mean"] = before["w_mean"].clone()  # `w_mean` is the buffer itself, which the updates change in place
    for _ in range(3):
        model.update_mean_latent()
    after = _run(model, batch)
    assert int(model.sml.steps) == 3 and torch.equal(after["w_mean"], model.sml.online)
    # the mean is only added: the encoder's part of the codes is the same
    torch.testing.assert_close(after["ws"] - after["w_mean"], before["ws"] - before["w_mean"], rtol=0, atol=1e-5)
    if moves:
        assert (model.sml.online - w_avg).abs().max() > 1e-5 and not torch.equal(after["image"], before["image"])
    else:  # τ = 0: w̄_onl stays exactly w̄, and so does the output
        assert torch.equal(model.sml.online, w_avg) and torch.equal(after["image"], before["image"])


def test_no_gma_row_has_no_attention_and_its_blocks_add_the_fused_ffn():
    full, no_gma = _tiny("paper/row=table5/full"), _tiny("paper/row=table5/no_gma")
    assert sum(isinstance(m, MaskGatedPatchAttention) for m in full.modules()) == 3
    assert not any(isinstance(m, MaskGatedPatchAttention) for m in no_gma.modules())
    gma_keys = [k for k in _keys(full, "encoder.decoder.gma.") if ".attention." in k or ".fuse_attn." in k]
    assert gma_keys and not set(gma_keys) & set(no_gma.state_dict())
    dropped = sum(_n(g.attention) + _n(g.fuse_attn) for g in full.encoder.decoder.gma)
    assert _n_trainable(full) - _n_trainable(no_gma) == dropped
    for model, plain in ((no_gma, True), (full, False)):
        calls = []
        for g in model.encoder.decoder.gma:
            g.register_forward_hook(lambda m, i, o: calls.append((m, i, o)))
        _run(model, _batch(32))
        assert len(calls) == 3
        with torch.no_grad():  # −GMA: y = x + FFN(Fuse(x, a)); the full block also attends
            for m, (x, a, _mask), y in calls:
                assert torch.equal(y, x + m.ffn(m.fuse_ffn(x, a))) == plain


# ------------------------------------------------------------------------------------ Table 6
def _guidance_inputs(model: MMInvertFill) -> dict[str, list[torch.Tensor]]:
    """What each GMA block is given as guidance `a`, and the edge / seg branch features of each stage."""
    dec, seen = model.encoder.decoder, {"a": [], "fe": [], "fs": []}
    for g in dec.gma:
        g.register_forward_pre_hook(lambda m, args: seen["a"].append(args[1]))
    for name, stages in (("fe", getattr(dec, "edge_stages", [])), ("fs", getattr(dec, "seg_stages", []))):
        for s in stages:
            s.register_forward_hook(lambda m, i, o, name=name: seen[name].append(o))
    return seen


@pytest.mark.parametrize("row", ["both", "biased", "gt"])
def test_guidance_rows_fuse_what_they_name(row):
    model = _tiny(f"paper/row=table6/{row}")
    assert model.encoder.decoder.guidance == {"both": "unbiased"}.get(row, row)
    seen = _guidance_inputs(model)
    batch = _batch(32)
    out = _run(model, batch)
    onehot = F.one_hot(batch["seg"], K).permute(0, 3, 1, 2).float()
    for i, (a, size) in enumerate(zip(seen["a"], (8, 16, 32))):
        if row == "both":  # unbiased: the edge and seg branches' features
            want = torch.cat([seen["fe"][i], seen["fs"][i]], 1)
        elif row == "biased":  # the branches' own predictions
            want = torch.cat([torch.sigmoid(out["edge"][i]), torch.softmax(out["seg"][i], 1)], 1)
        else:  # ground truth, area-resized to the stage
            want = torch.cat([area_resize(batch["edge"], size), area_resize(onehot, size)], 1)
        assert a.shape[-1] == size
        torch.testing.assert_close(a, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("row, reads_hole", [("both", False), ("biased", False), ("gt", True)])
def test_only_gt_guidance_reads_the_maps_inside_the_hole(row, reads_hole):
    """The encoder input masks seg and edge (the hole's maps are unknown); ground-truth guidance reads them whole."""
    model = _tiny(f"paper/row=table6/{row}")
    batch = _batch(32)
    base = _run(model, batch)["image"]
    for seg, edge in ((True, False), (False, True)):
        moved = _run(model, _in_region(batch, known=False, seg=seg, edge=edge))["image"]
        assert torch.equal(moved, base) != reads_hole, (seg, edge)


@pytest.mark.parametrize("row, modalities", [("none", []), ("edge", ["edge"]), ("seg", ["seg"]),
                                             ("both", ["seg", "edge"])])
def test_modality_rows_read_only_their_inputs(row, modalities):
    model = _tiny(f"paper/row=table6/{row}")
    assert model.encoder.modalities == modalities
    assert model.encoder.backbone.stem.conv.in_channels == 4 + (K + 1) * ("seg" in modalities) + 2 * ("edge" in modalities)
    assert bool(_keys(model, "encoder.decoder.seg_stages.")) == ("seg" in modalities)
    assert bool(_keys(model, "encoder.decoder.edge_stages.")) == ("edge" in modalities)
    batch = _batch(32)
    base = _run(model, batch)
    for name in ("seg", "edge"):  # a change of the known pixels' map moves the output iff the model reads it
        moved = _run(model, _in_region(batch, known=True, seg=name == "seg", edge=name == "edge"))
        assert torch.equal(moved["image"], base["image"]) != (name in modalities), name
        assert (moved[name][2] is None) == (name not in modalities)
    unread = {k: v for k, v in batch.items() if k not in ("seg", "edge") or k in modalities}
    assert torch.equal(_run(model, unread)["image"], base["image"])  # maps it does not read may be absent


# ------------------------------------------------------------------------------------ Table 7
@pytest.mark.parametrize("row, fusion, spatial", [("mmt1_concat", ConvFusion, True), ("mmt2_adain", AdaINFusion, False),
                                                  ("mmt3_spade", SPADEFusion, True), ("ours", ADN, True)])
def test_fusion_rows_fuse_the_guidance_as_named(row, fusion, spatial):
    """MMT rows: biased guidance, no attention; AdaIN reads only the guidance's global statistics."""
    model = _tiny(f"paper/row=table7/{row}")
    dec = model.encoder.decoder
    mmt = row != "ours"
    assert dec.guidance == ("biased" if mmt else "unbiased")
    assert all((g.attention is None) == mmt and isinstance(g.fuse_ffn, fusion) for g in dec.gma)
    g = dec.gma[0]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, dec.rgb_channels[0], 8, 8, generator=gen)
    a = torch.rand(2, _guide_width(model), 8, 8, generator=gen)
    with torch.no_grad():
        y = g.fuse_ffn(x, a)
        assert (y - g.fuse_ffn(x, torch.zeros_like(a))).abs().max() > 1e-4  # the guidance is read
        mirrored = g.fuse_ffn(x, a.flip(-1))  # same values elsewhere: only spatial fusions notice
    assert torch.allclose(mirrored, y, atol=1e-5) != spatial


def _guide_width(model: MMInvertFill) -> int:
    dec = model.encoder.decoder
    return 1 + K if dec.guidance != "unbiased" else 2 * dec.aux_channels[0]


# ------------------------------------------------------------------------------------ Table 8
@pytest.mark.parametrize("row, block, reads_g0", [("acb", ACBBlock, True), ("res", ResBlock, False),
                                                  ("aot", AOTBlock, False)])
def test_bottleneck_rows_build_their_blocks_and_only_acb_reads_g0(row, block, reads_g0):
    model = _tiny(f"paper/row=table8/{row}", "+bottleneck_widths.res=40", "+bottleneck_widths.aot=32")
    blocks = model.encoder.bottleneck.blocks
    assert len(blocks) == 1 and all(isinstance(b, block) for b in blocks)
    if row == "res":
        assert blocks[0].body[0].out_channels == 40
    if row == "aot":
        assert blocks[0].fuse.in_channels == 32
    batch = _batch(32)
    enc = _capture_encoder_output(model)
    _run(model, batch)
    model.encoder.backbone.register_forward_hook(lambda m, i, o: (o[0], torch.rand_like(o[1]), o[2]))
    _run(model, batch)  # the same f₀, another gate g₀
    assert torch.equal(enc[1]["bottleneck"], enc[0]["bottleneck"]) != reads_g0
