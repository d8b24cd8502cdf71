"""Stored models keep their behaviour: the bundled asset (trained before the ablation switches existed)
rebuilds with the behaviour it was trained with and reproduces the reference output recorded on the
code before the switches were added (commit d85f449)."""
import pytest
import torch

from mminvert.app.model import DEFAULT_BUNDLE
from mminvert.encoder import MultiModalGuidedEncoder
from mminvert.inference.bundle import load_bundle
from mminvert.inversion import MMInvertFill
from tests.test_inversion import _tiny_model

REFERENCE = [  # bundle_digest() printed on commit d85f449 (OMP_NUM_THREADS=1; 2 threads differ by < 1e-6)
    0.162001, 0.184703, 0.185344, 0.096622, 0.470084, 0.398925, 0.371612, 0.361724, 0.201499, 0.052042,
    0.181664, 0.169659, 0.228673, 0.308957, 0.321060, 0.339341, 0.236201, 0.297379, 0.251689, 0.209506,
    0.316195, 0.398871, 0.320203, 0.333331, 0.148198, 0.127524, 0.214977, 0.209019, 0.246434, 0.203345,
    0.287632, 0.253192, 0.383417, 0.436346, 0.371781, 0.402590, 0.266657, 0.363852, 0.239660, 0.336246,
    0.073386, 0.083706, 0.093153, 0.159738, 0.134740, 0.024327, 0.084811, 0.069999, 0.196141, 0.258111,
    0.237099, 0.110710, 0.418606, 0.423503, 0.344450, 0.321611, 0.150951, 0.040996, 0.181734, 0.288535,
    0.323135, 0.279952, 0.366448, 0.348500, 0.260194, 0.285534, 0.288733, 0.201639, 0.369638, 0.419980,
    0.325975, 0.348776, 0.140728, 0.082841, 0.163940, 0.224828, 0.247900, 0.235048, 0.313940, 0.226537,
    0.396955, 0.357375, 0.382083, 0.367106, 0.361157, 0.436272, 0.334641, 0.360771, 0.059849, 0.015081,
    0.041638, 0.096160, 0.066047, 0.085592, 0.108244, 0.039796, -2.264069, -1.831262, -2.354653, -1.671907,
    -2.261778, -1.678000, -2.338743, -1.763043, 0.727198, 0.566738, -1.633874, -1.191486, -0.663086, -0.286717,
    -1.512934, -0.944917, -1.392423, -1.205533, -2.173244, -1.661921, -0.499237, -0.374454, -0.934385, -0.481168,
    -1.267872, -0.892529, -1.637933, -1.055205, -0.328034, -0.726952, 0.432830, -0.168390, -0.293276, -0.452442,
    0.847886, 0.513174, -0.136587, 0.380075, -1.345885, -0.595434, -1.095879, -0.707532, -2.119414, -1.374591,
    0.073550, 0.315262, -0.783744, -0.364290, -0.654570, -0.695810, -0.694963, -0.651956, 0.598072, 0.539447,
    -1.534959, -1.345910, -0.582805, -0.221803, -1.367507, -1.118177, -1.290998, -1.171600, -2.066420, -1.859946,
    -0.431890, -0.283459, -0.862120, -0.823576, -1.075222, -0.782124, -1.534903, -1.523661, -0.379522, -0.901858,
    0.239608, 0.045469, -0.263370, -0.529418, 0.768513, 0.751547, -0.014626, 0.547067, -1.165139, -1.059295,
    -0.990554, -0.570030, -1.940558, -1.763203, 0.062547, 0.368948, -0.669808, -0.471084, -0.644421, -0.714359,
    -0.661171, -0.540273,
]


def _batch(num_classes: int = 11, size: int = 64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    mask = torch.ones(2, 1, size, size)
    mask[:, :, 16:48, 8:40] = 0
    seg = torch.randint(0, num_classes, (2, size, size), generator=g)
    edge = (torch.rand(2, 1, size, size, generator=g) > 0.8).float()
    return dict(image=image, mask=mask, seg=seg, edge=edge, mask_seg=mask, mask_edge=mask)


@torch.no_grad()
def bundle_digest(path=DEFAULT_BUNDLE) -> torch.Tensor:
    """(2·3·16,) the output image pooled to 4x4, then the last-scale edge and seg logits pooled to 2x2."""
    model = load_bundle(path).float()
    out = model(_batch())
    parts = [torch.nn.functional.adaptive_avg_pool2d(out["image"], 4).flatten(),
             torch.nn.functional.adaptive_avg_pool2d(out["edge"][-1], 2).flatten(),
             torch.nn.functional.adaptive_avg_pool2d(out["seg"][-1], 2).flatten()]
    return torch.cat(parts)


def test_bundled_asset_rebuilds_with_its_trained_behaviour():
    stored = torch.load(DEFAULT_BUNDLE, weights_only=True)["architecture"]["encoder"]
    assert "gate" not in stored and "use_g0" not in stored["bottleneck"]  # an asset from before the switches
    enc = load_bundle(DEFAULT_BUNDLE).encoder
    assert enc.config["gate"] == "known_fraction" and enc.config["bottleneck"]["use_g0"] is False
    assert enc.config["attention"] is True and enc.modalities == ["seg", "edge"]
    assert all(g.attention.gate_mode == "known_fraction" for g in enc.decoder.gma)


def test_bundled_asset_reproduces_its_reference_output():
    torch.testing.assert_close(bundle_digest(), torch.tensor(REFERENCE), rtol=0, atol=1e-4)


def test_legacy_defaults_fill_only_missing_keys():
    old = dict(num_classes=5, use_aux=True, channels=[8, 16, 16, 16], bottleneck=dict(type="acb", depth=2),
               fusion="adn", guidance="unbiased", heads=2, patch_sizes=[2, 4])
    enc = MultiModalGuidedEncoder.from_config(old)
    assert enc.config["gate"] == "known_fraction" and enc.bottleneck.blocks[0].gate is not None
    new = MultiModalGuidedEncoder.from_config({**old, "gate": "learned", "bottleneck": dict(depth=2, use_g0=True)})
    assert new.config["gate"] == "learned" and new.bottleneck.blocks[0].gate is None
    # the keyword defaults (not the legacy ones) apply when building from Hydra / Python
    assert MultiModalGuidedEncoder(**old).config["gate"] == "learned"


@pytest.mark.parametrize("kw", [{}, dict(use_aux=False)])
def test_new_architecture_round_trips(kw):
    model = _tiny_model(**kw).eval()
    arch = model.architecture()
    assert {"modalities", "attention", "gate"} <= set(arch["encoder"]) and "use_aux" not in arch["encoder"]
    assert {"use_g0", "width"} <= set(arch["encoder"]["bottleneck"])
    again = MMInvertFill.from_architecture(arch)
    again.load_state_dict(model.state_dict())  # strict: the same modules
    assert again.encoder.config == model.encoder.config
    batch = dict(image=torch.rand(1, 3, 32, 32) * 2 - 1, mask=torch.ones(1, 1, 32, 32))
    batch["mask"][..., 8:24, 8:24] = 0
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(batch)["image"], model(batch)["image"], rtol=0, atol=0)


if __name__ == "__main__":  # prints the reference (run on the code the asset was trained with)
    torch.set_printoptions(precision=6, sci_mode=False)
    d = bundle_digest()
    print(d.numel(), d.abs().mean().item())
    print([round(v, 6) for v in d.tolist()])
