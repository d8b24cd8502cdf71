"""Evaluation scores the DataModule's own test split: `InpaintingDataModule.build("test", eval_masks=, count=)` gives
the items validation / test would give with the same masks, with the data config's label check and on_error."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from PIL import Image

from mminvert.data import BoxMasks, EvalMaskSet, InpaintingDataModule
from mminvert.evaluation import evaluate
from mminvert.evaluation.bucket_data import bucket_masks
from mminvert.inference import save_bundle
from tests.test_inversion import _tiny_model

CONF = Path(__file__).resolve().parents[1] / "conf"


def _same_items(a, b, n: int) -> None:
    assert len(a) == len(b) == n
    for i in range(n):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], torch.Tensor):
                assert torch.equal(x[k], y[k]), (i, k)
            else:
                assert x[k] == y[k], (i, k)


def _compose(name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(name, overrides=overrides)


def test_evaluate_scores_the_items_of_the_datamodules_test_split(tmp_path, monkeypatch):
    """The datasets evaluate() scores are item for item the DataModule's test dataset (as Lightning's test stage
    builds it) when that is given the bucket's masks: same images, masks, edges, labels and order."""
    built = []
    original = InpaintingDataModule.build

    def spy(self, split, eval_masks=None, count=None):
        ds = original(self, split, eval_masks=eval_masks, count=count)
        built.append((split, eval_masks, count, ds))
        return ds

    monkeypatch.setattr(InpaintingDataModule, "build", spy)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    ckpt = save_bundle(_tiny_model(use_aux=False), tmp_path / "tiny.pt")
    data = tmp_path / "data"
    cfg = _compose("evaluate", [f"ckpt={ckpt}", f"output_dir={tmp_path / 'out'}", f"paths.data_dir={data}",
                                f"paths.cache_dir={tmp_path / 'cache'}", "data=scenes_tiny", "num_images=3",
                                "batch_size=2", "buckets=[0.1-0.3,0.4-0.6]", "metrics=[psnr]", "baselines=[]",
                                "feature_cache=null", "save_outputs=true"])
    res = evaluate(cfg)
    assert [(split, count) for split, _, count, _ in built] == [("test", 3), ("test", 3)]
    assert res["num_images"] == 3 and res["dataset"]["count"] == 3
    for bucket, (_, masks, _, scored) in zip(("0.1-0.3", "0.4-0.6"), built):
        assert isinstance(masks, EvalMaskSet) and (masks.lo, masks.hi) == tuple(map(float, bucket.split("-")))
        dm = instantiate(_compose("config", ["data=scenes_tiny", f"paths.data_dir={data}"]).data,
                         eval_masks=functools.partial(bucket_masks, cfg, 32, bucket, 3, 2025, "spread"))
        dm.resolution = 32
        dm.setup("test")
        reference = dm.datasets["test"]  # Lightning's test split: all 8 images, masks of the set
        assert len(reference) == 8
        _same_items(scored, torch.utils.data.Subset(reference, range(3)), 3)
        keys = [reference.source.key(i) for i in range(3)]
        holes = [1 - float(scored[i]["mask"].mean()) for i in range(3)]
        assert all(masks.lo - 0.02 <= h <= masks.hi + 0.02 for h in holes), holes
    assert (tmp_path / "out" / "test_images.txt").read_text().split() == keys  # the scored images, in order
    saved = sorted((tmp_path / "out" / "outputs" / "mminvert").rglob("*.png"))  # save_outputs: every composite
    assert [p.relative_to(tmp_path / "out" / "outputs" / "mminvert").as_posix() for p in saved] == [
        f"{b}/{i:06d}.png" for b in ("0.1-0.3", "0.4-0.6") for i in range(3)]
    assert np.asarray(Image.open(saved[0])).shape == (32, 32, 3)


def test_evaluate_applies_the_data_configs_class_check(tmp_path):
    ckpt = save_bundle(_tiny_model(use_aux=False), tmp_path / "tiny.pt")
    cfg = _compose("evaluate", [f"ckpt={ckpt}", f"output_dir={tmp_path / 'out'}", f"paths.data_dir={tmp_path}",
                                "data=scenes_tiny", "data.num_classes=3", "num_images=2", "buckets=[0.4-0.6]",
                                "metrics=[psnr]", "baselines=[]", "feature_cache=null"])
    with pytest.raises(ValueError, match=r"data.num_classes=3 but the test source has \d+ classes"):
        evaluate(cfg)


class _FlakySource:
    """Four 40x40 images, the second unreadable; labels with class ids 0..`top` (0..2 by default)."""

    class_names = ()

    def __init__(self, split: str = "test", resolution: int = 32, top: int = 2) -> None:
        self.top = top

    def __len__(self) -> int:
        return 4

    def load(self, i: int):
        if i == 1:
            raise OSError(f"image {i}: truncated file")
        img = np.full((40, 40, 3), 40 * i, np.uint8)
        labels = np.zeros((40, 40), np.uint8)
        labels[0, 0] = self.top
        return img, labels, f"img{i}.png"


def _masks(tmp_path: Path) -> EvalMaskSet:
    return EvalMaskSet(tmp_path / "masks", 32, "0.4-0.6", count=3, seed=1).ensure()


def test_build_with_masks_keeps_on_error_and_the_label_check(tmp_path):
    masks = _masks(tmp_path)
    skip = InpaintingDataModule(_FlakySource, 32, 2, 3, on_error="skip", mask_generator=BoxMasks())
    ds = skip.build("test", eval_masks=masks, count=3)
    assert len(ds) == 3 and ds[0]["index"] == 0
    item = ds[1]
    assert item["index"] == 2 and item["path"] == "img2.png" and ds.skipped == 1  # the next readable image
    assert torch.equal(item["mask"][0], torch.from_numpy(masks.load(2)).float())  # with that image's mask
    strict = InpaintingDataModule(_FlakySource, 32, 2, 3, mask_generator=BoxMasks())
    with pytest.raises(OSError, match="truncated"):
        strict.build("test", eval_masks=masks, count=3)[1]
    bad_labels = InpaintingDataModule(functools.partial(_FlakySource, top=3), 32, 2, 3, mask_generator=BoxMasks())
    with pytest.raises(ValueError, match=r"ids \[3\] are not classes of data.num_classes=3"):
        bad_labels.build("test", eval_masks=masks)[0]
    with pytest.raises(ValueError, match="eval_masks are for the val / test splits"):
        strict.build("train", eval_masks=masks)
