"""Stored models keep their behaviour: a model saved before the ablation switches existed (commit d85f449)
rebuilds with the behaviour it was saved with and reproduces the output recorded on that commit."""
from pathlib import Path

import pytest
import torch

from mminvert.encoder import MultiModalGuidedEncoder
from mminvert.inference.bundle import load_bundle
from mminvert.inversion import MMInvertFill
from tests.test_inversion import _tiny_model

FIXTURE = Path(__file__).parent / "fixtures" / "legacy" / "tiny_mminvertfill_d85f449.pt"
# digest() of FIXTURE printed on commit d85f449, the code the fixture was saved with (a tiny MMInvertFill:
# tests.test_inversion._tiny_model with its trainable weights perturbed by N(0, 0.05²), seed 7)
REFERENCE = [
    0.214395, 0.225625, 0.191999, 0.581866, -0.465885, -0.142313, -0.736994, -0.324100, -0.269383, -0.025759,
    -0.519057, 0.223330, 0.453061, 0.683103, 0.323243, 0.564639, -0.321066, -0.312613, -0.104055, 0.385275,
    -0.436241, -0.075721, -0.407141, -0.477727, 0.820776, 0.698649, 0.225648, -0.088368, 0.612121, 0.468583,
    1.079683, 0.613988, 0.069097, 0.206499, 0.011824, -0.198830, 0.183357, 0.072662, 1.027910, 0.772405,
    0.367511, 0.524015, 2.150827, 0.538714, -0.441998, 0.511622, 0.523485, -0.703210, 0.455786, 0.160133,
    0.273990, 0.720070, -0.218362, 0.045014, -0.267648, -0.254375, -0.331635, 0.194790, -0.442877, 0.145454,
    0.364525, 0.820566, 0.230178, 0.509695, -0.159321, -0.114821, 0.215939, 0.757293, -0.393669, 0.411221,
    0.353085, -0.125302, 1.074082, 1.063293, 0.636428, 0.267415, 0.833646, 0.704741, 1.218737, 0.683250,
    -0.287001, -0.434154, -0.462870, -0.155910, -0.490053, -0.706988, 0.780880, 0.865013, 0.206938, 0.250825,
    2.247489, 0.398296, -0.441728, 0.491649, 0.413298, -0.834533, -0.016819, -0.041022, -0.061735, -0.038422,
    0.042509, 0.059135, -0.044857, 0.068149, -0.190102, -0.341103, -0.258587, -0.189485, 0.082004, 0.088200,
    0.117124, -0.044995, 0.349722, 0.533310, 0.448373, 0.414502, -0.271989, -0.382497, -0.298738, -0.262944,
    -0.196491, -0.295240, -0.273835, -0.136813, -0.220980, -0.244045, -0.187274, -0.262672, 0.079685, 0.032176,
    0.073232, -0.013124, 0.396825, 0.461890, 0.360339, 0.492124, -0.289844, -0.308929, -0.263291, -0.286826,
    -0.213928, -0.200506, -0.198842, -0.209552,
]


def _batch(num_classes: int = 5, size: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    mask = torch.ones(2, 1, size, size)
    mask[:, :, 8:24, 4:20] = 0
    seg = torch.randint(0, num_classes, (2, size, size), generator=g)
    edge = (torch.rand(2, 1, size, size, generator=g) > 0.8).float()
    return dict(image=image, mask=mask, seg=seg, edge=edge, mask_seg=mask, mask_edge=mask)


@torch.no_grad()
def digest(model: MMInvertFill) -> torch.Tensor:
    """(2·3·16 + 2·4 + 2·5·4,) the output image pooled to 4x4, the last-scale edge and seg logits pooled to 2x2."""
    out = model.float().eval()(_batch())
    pool = torch.nn.functional.adaptive_avg_pool2d
    return torch.cat([pool(out["image"], 4).flatten(), pool(out["edge"][-1], 2).flatten(),
                      pool(out["seg"][-1], 2).flatten()])


def test_stored_model_from_before_the_switches_rebuilds_with_its_trained_behaviour():
    stored = torch.load(FIXTURE, weights_only=True)["architecture"]["encoder"]
    assert "gate" not in stored and "use_g0" not in stored.get("bottleneck", {})  # saved before the switches
    enc = load_bundle(FIXTURE).encoder
    assert enc.config["gate"] == "known_fraction" and enc.config["bottleneck"]["use_g0"] is False
    assert enc.config["attention"] is True and enc.modalities == ["seg", "edge"]
    assert all(g.attention.gate_mode == "known_fraction" for g in enc.decoder.gma)


def test_stored_model_reproduces_its_reference_output():
    torch.testing.assert_close(digest(load_bundle(FIXTURE)), torch.tensor(REFERENCE), rtol=0, atol=1e-4)


def test_the_reference_would_catch_a_wrong_legacy_gate():
    """Rebuilt with today's default gate instead of the legacy one, the same weights give another output."""
    obj = torch.load(FIXTURE, weights_only=True)
    arch = obj["architecture"]
    arch["encoder"] = {**arch["encoder"], "gate": "learned"}
    model = MMInvertFill.from_architecture(arch)
    model.load_state_dict(obj["state_dict"])
    assert (digest(model) - torch.tensor(REFERENCE)).abs().max() > 1e-3


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
