"""The evaluation protocol measures what a user gets: the model row sees image and mask only, guided rows are
explicit, evaluation masks spread over their buckets, and training covers large holes and the standard setting."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mminvert.data import EvalMaskSet, InpaintingDataset, ModalityMasks, ScenesSource, canny_edges, hole_ratio
from mminvert.data.guidance import guided_batch
from mminvert.evaluation import ModelMethod
from mminvert.tasks import InpaintingModule

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
EDGES = {"sigma": 1.0, "low": 50, "high": 150}


class SpyModel(torch.nn.Module):
    """Records the batch it receives; returns the masked image as its fill."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict] = []

    def forward(self, batch):
        self.seen.append({k: v.clone() for k, v in batch.items() if torch.is_tensor(v)})
        img = batch["image"] * batch["mask"]
        return {"image": img, "composite": img, "seg": [None]}


def _test_batch(n: int = 4, res: int = 32) -> dict:
    """A test-split batch as evaluate.py builds it: ground-truth labels and edges, masks from a fixed set."""
    source = ScenesSource(split="test", resolution=res, num_test=n)
    masks = [np.ones((res, res), np.float32) for _ in range(n)]
    for i, m in enumerate(masks):
        m[4 + i : 20 + i, 6:26] = 0

    class Masks:
        def load(self, i):
            return masks[i]

    ds = InpaintingDataset(source, res, eval_masks=Masks(), train=False, edges=EDGES)
    items = [ds[i] for i in range(n)]
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in ("image", "seg", "edge", "mask",
                                                                                 "mask_seg", "mask_edge")}


def test_model_row_receives_image_and_mask_only_by_default():
    batch = _test_batch()
    assert batch["mask_seg"].sum() > 0 and (batch["seg"] != 255).any()  # the data does carry guidance
    spy = SpyModel()
    ModelMethod(spy, "m")(batch)  # the default row
    seen = spy.seen[-1]
    assert torch.all(seen["mask_seg"] == 0) and torch.all(seen["mask_edge"] == 0)
    assert torch.all(seen["seg"] == 255) and torch.all(seen["edge"] == 0)
    assert torch.equal(seen["image"], batch["image"]) and torch.equal(seen["mask"], batch["mask"])
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("evaluate", overrides=["ckpt=x"])
    assert list(cfg.guidance) == ["none"] and cfg.mask_ratio == "spread"


def test_known_and_gt_rows_receive_what_their_names_say():
    batch = _test_batch()
    mask = batch["mask"]
    spy = SpyModel()
    ModelMethod(spy, "m", guidance="known", edges=EDGES)(batch)
    known = spy.seen[-1]
    assert torch.equal(known["mask_seg"], mask) and torch.equal(known["mask_edge"], mask)
    hole = mask[:, 0] < 0.5
    assert torch.all(known["seg"][hole] == 255) and torch.equal(known["seg"][~hole], batch["seg"][~hole])
    assert torch.all(known["edge"][mask < 0.5] == 0)
    x = ((batch["image"][0] * mask[0]).permute(1, 2, 0).numpy() + 1) * 127.5
    expected = canny_edges(x.round().clip(0, 255).astype(np.uint8), **EDGES) * mask[0, 0].numpy()
    assert np.array_equal(known["edge"][0, 0].numpy(), expected)
    # nothing leaks from the hole: other hole pixels give the same guidance
    other = dict(batch, image=torch.where(mask.bool(), batch["image"], -batch["image"]))
    again = guided_batch(other, "known", EDGES)
    assert torch.equal(again["edge"], known["edge"]) and torch.equal(again["seg"], known["seg"])
    ModelMethod(spy, "m", guidance="gt")(batch)
    gt = spy.seen[-1]
    assert torch.all(gt["mask_seg"] == 1) and torch.all(gt["mask_edge"] == 1)
    assert torch.equal(gt["seg"], batch["seg"]) and torch.equal(gt["edge"], batch["edge"])
    with pytest.raises(ValueError, match="guidance must be one of"):
        ModelMethod(spy, "m", guidance="labels")


def test_validation_sees_the_standard_setting():
    batch = _test_batch(n=2)
    spy = SpyModel()
    spy.encoder = torch.nn.Module()
    spy.encoder.num_classes = 11
    module = InpaintingModule(spy, loss=None, optimizer=None, val_metrics=("psnr",))
    module.on_validation_epoch_start()
    module.validation_step(batch, 0)
    assert torch.all(spy.seen[-1]["mask_seg"] == 0) and torch.all(spy.seen[-1]["mask_edge"] == 0)
    assert torch.all(spy.seen[-1]["seg"] == 255)
    assert torch.equal(module.val_examples["batch"]["seg"], batch["seg"])  # targets untouched


def _committed_sets() -> list[Path]:
    return sorted(p.parent for p in (REPO / "data" / "eval_masks").glob("*/*/manifest.json"))


def test_committed_buckets_spread_over_the_bucket():
    current = [d for d in _committed_sets() if "legacy" not in json.loads((d / "manifest.json").read_text())]
    assert {d.relative_to(REPO / "data" / "eval_masks").as_posix() for d in current} >= {
        "64/0.10-0.30_spread", "64/0.40-0.60_spread", "64/0.70-0.90_spread"}
    for d in current:
        m = json.loads((d / "manifest.json").read_text())
        lo, hi = m["bucket"]
        r = np.asarray(m["hole_ratios"])
        assert abs(float(np.median(r)) - (lo + hi) / 2) <= 0.03, d
        assert hi - 0.03 <= r.max() <= hi and r.min() >= lo, d
    for d in _committed_sets():  # every legacy set is one of the old `lowest` draws
        m = json.loads((d / "manifest.json").read_text())
        assert ("legacy" in m) == (m.get("ratio", "lowest") == "lowest"), d


def test_default_evaluation_uses_the_committed_spread_sets():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("evaluate", overrides=["ckpt=x"])
    from mminvert.data import bucket_ratio

    for bucket in cfg.buckets:
        s = EvalMaskSet(REPO / "data" / "eval_masks", 64, bucket, count=1000, seed=int(cfg.mask_seed),
                        ratio=bucket_ratio(bucket, cfg.mask_ratio))
        assert s.manifest_path.is_file(), s.dir  # committed: evaluation writes nothing new at 64 px
        assert json.loads(s.manifest_path.read_text())["count"] >= 1000
    assert EvalMaskSet(REPO / "data" / "eval_masks", 64, "0.4-0.6", count=3, seed=2025, ratio="spread").verify()


def test_default_training_masks_cover_large_holes():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config")
    gen = instantiate(cfg.mask)
    rng = np.random.default_rng(0)
    r = np.array([hole_ratio(gen(rng, 64, 64)) for _ in range(1000)])
    assert (r > 0.4).mean() >= 0.3
    assert (r < 0.1).mean() >= 0.1 and (r > 0.8).mean() >= 0.02  # small holes stay, and the range reaches 90 %
    assert r.max() <= 0.9 + 1e-6


def test_training_withholds_guidance_together_often():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config")
    modality = instantiate(cfg.data.modality)
    rng = np.random.default_rng(0)
    mask = np.ones((8, 8), np.float32)
    mask[2:5] = 0
    pairs = [modality.pair(rng, mask) for _ in range(2000)]
    both = np.mean([s.max() == 0 and e.max() == 0 for s, e in pairs])
    seg_only = np.mean([s.max() == 0 and e.max() > 0 for s, e in pairs])
    assert 0.38 <= both <= 0.50  # standard inpainting is a first-class input (p_withhold_both 0.4 + 0.6 * 0.2²)
    assert seg_only > 0.05  # each modality is still withheld alone sometimes
    # with p_withhold_both = 0, a pair draws exactly what two single draws do (older configs keep their stream)
    old = ModalityMasks(p_withhold=0.2, p_full=0.1)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(50):
        s1, e1 = old.pair(a, mask)
        assert np.array_equal(s1, old(b, mask)) and np.array_equal(e1, old(b, mask))
