"""Checkpoint loaders rebuild the model class the checkpoint names (`architecture["model_class"]`)."""
from pathlib import Path

import pytest
import torch

from mminvert.inference import Inpainter, load_bundle, save_bundle
from mminvert.inference.bundle import model_from_checkpoint_dict
from mminvert.inference.model_classes import MODEL_CLASSES, model_class_for, register_model_class
from mminvert.inversion import MMInvertFill
from mminvert.io import CheckpointError
from tests.fake_sampler import FakeSampler, tiny_fake_sampler
from tests.test_inversion import _tiny_model

ASSET = Path(__file__).resolve().parents[1] / "mminvert" / "assets" / "scenes64_inpainter.pt"
LEGACY = Path(__file__).parent / "fixtures" / "legacy" / "tiny_mminvertfill_d85f449.pt"


def _batch(size: int = 32, b: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    mask = torch.ones(b, 1, size, size)
    mask[..., size // 4 : size // 2, size // 4 : 3 * size // 4] = 0
    return dict(image=torch.rand(b, 3, size, size, generator=g) * 2 - 1, mask=mask)


def test_registry_names_the_two_methods():
    assert MODEL_CLASSES["MMInvertFill"] == "mminvert.inversion:MMInvertFill"
    assert MODEL_CLASSES["DiverseInversion"] == "mminvert.diverse:DiverseInversion"
    assert model_class_for({"generator": {}}) is MMInvertFill  # no key: stored before it existed


def test_mminvertfill_bundle_names_its_class_and_round_trips(tmp_path):
    model = _tiny_model().eval()
    assert model.architecture()["model_class"] == "MMInvertFill"
    path = save_bundle(model, tmp_path / "m.pt")
    assert torch.load(path, weights_only=True)["architecture"]["model_class"] == "MMInvertFill"
    again = load_bundle(path)
    assert type(again) is MMInvertFill
    batch = _batch()
    with torch.no_grad():
        torch.testing.assert_close(again(batch)["image"], model(batch)["image"], rtol=0, atol=0)


def test_legacy_files_without_the_key_load_as_mminvertfill():
    arch = torch.load(LEGACY, weights_only=True)["architecture"]
    assert "model_class" not in arch  # written before the key existed
    assert type(load_bundle(LEGACY)) is MMInvertFill


def test_bundled_inpainter_names_its_class():
    assert torch.load(ASSET, weights_only=True)["architecture"]["model_class"] == "MMInvertFill"
    assert type(load_bundle(ASSET)) is MMInvertFill


def test_bundled_inpainter_behaves_exactly_as_a_direct_rebuild():
    obj = torch.load(ASSET, weights_only=True)
    direct = MMInvertFill.from_architecture(obj["architecture"])
    direct.load_state_dict(obj["state_dict"])
    loaded = load_bundle(ASSET)
    batch = _batch(64, 1)
    batch.update(seg=torch.full((1, 64, 64), 255), edge=torch.zeros(1, 1, 64, 64),
                 mask_seg=torch.zeros(1, 1, 64, 64), mask_edge=torch.zeros(1, 1, 64, 64))
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch)["image"], direct.eval()(batch)["image"], rtol=0, atol=0)


def test_sampling_model_round_trips_through_bundle_and_training_checkpoint(tmp_path):
    model = tiny_fake_sampler(gate=0.5)
    path = save_bundle(model, tmp_path / "fake.pt")
    again = load_bundle(path)
    assert type(again) is FakeSampler and again.supports_sampling
    batch = _batch()
    torch.testing.assert_close(again.sample(batch, 2, seed=4)["composite"], model.sample(batch, 2, seed=4)["composite"],
                               rtol=0, atol=0)
    # a Lightning checkpoint of a task whose module holds the model as `model`
    ckpt = {"mminvert_architecture": model.architecture(), "epoch": 0,
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()} | {"discriminator.w": torch.ones(1)}}
    from_ckpt = model_from_checkpoint_dict(ckpt, "run.ckpt")
    assert type(from_ckpt) is FakeSampler
    with torch.no_grad():
        torch.testing.assert_close(from_ckpt(batch)["image"], model(batch)["image"], rtol=0, atol=0)
    # Inpainter.from_checkpoint goes through the same dispatch, and copes with a model without guidance branches
    inp = Inpainter.from_checkpoint(path)
    assert type(inp.model) is FakeSampler and inp.num_classes == 0 and not inp.use_aux


def test_unknown_or_unimportable_class_is_a_clear_error(tmp_path):
    model = tiny_fake_sampler()
    obj = {"format": "mminvert.inpainter", "version": 1, "architecture": {**model.architecture(), "model_class": "Nope"},
           "state_dict": model.state_dict()}
    torch.save(obj, tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match=r"nope.pt: .*class 'Nope'.*known classes"):
        load_bundle(tmp_path / "nope.pt")
    register_model_class("Gone", "mminvert.no_such_module:Gone")
    try:
        with pytest.raises(CheckpointError, match="class 'Gone'.*mminvert.no_such_module cannot be imported"):
            model_class_for({"model_class": "Gone"}, "x.pt")
    finally:
        MODEL_CLASSES.pop("Gone")


def test_saving_an_unregistered_class_is_refused(tmp_path):
    class Unregistered(FakeSampler):
        def architecture(self):
            return {k: v for k, v in super().architecture().items() if k != "model_class"}

    torch.manual_seed(0)
    model = Unregistered(tiny_fake_sampler().generator.config)
    with pytest.raises(ValueError, match="Unregistered model: no loader knows that class"):
        save_bundle(model, tmp_path / "u.pt")
    assert not (tmp_path / "u.pt").exists()
