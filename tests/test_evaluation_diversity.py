"""The diversity column and the wide hole-ratio buckets (0–0.4, 0.4–1, 0–1) of evaluate.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from mminvert.data import EvalMaskSet, bucket_ratio, hole_ratio
from mminvert.data.masks import BucketMasks
from mminvert.evaluation import evaluate
from mminvert.evaluation.diversity_column import DiversityColumn
from mminvert.evaluation.methods import ModelMethod, TeleaMethod
from mminvert.inference import save_bundle
from mminvert.metrics import OFFLINE_FALLBACK, diversity_distance, diversity_lpips, hole_l1_diversity, pairwise_diversity
from tests.fake_sampler import tiny_fake_sampler
from tests.test_inversion import _tiny_model

CONF = Path(__file__).resolve().parents[1] / "conf"


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().flatten(1).mean(1)


def test_pairwise_diversity_is_the_mean_over_pairs():
    levels = torch.tensor([[0.0, 0.5, -1.0], [0.2, 0.2, 0.2]])  # (B=2, K=3) constant images
    fills = levels.view(2, 3, 1, 1, 1).expand(2, 3, 3, 4, 4)
    d = pairwise_diversity(fills, _l1)
    # input 0: |0 − 0.5|, |0 + 1|, |0.5 + 1| -> (0.5 + 1 + 1.5) / 3; input 1: identical fills
    torch.testing.assert_close(d, torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert diversity_lpips([fills[:, 0], fills[:, 1], fills[:, 2]], _l1) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="K >= 2"):
        pairwise_diversity(fills[:, :1], _l1)


def test_offline_distance_is_named_fixed_and_leaves_the_global_rng(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no LPIPS weights on this machine
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    dist, name = diversity_distance(None)
    assert name == OFFLINE_FALLBACK and "random backbone" in name
    assert torch.equal(torch.get_rng_state(), before)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(dist(x, x), torch.zeros(2))  # identical fills: diversity 0
    y = torch.rand(2, 3, 32, 32) * 2 - 1
    again, _ = diversity_distance(None)
    assert float(dist(x, y).min()) > 0 and torch.equal(again(x, y), dist(x, y))  # the same network every time


def test_column_scores_sampling_methods_and_gives_reasons_for_the_others():
    model = tiny_fake_sampler()
    rows = [ModelMethod(model, "fake"), TeleaMethod(), ModelMethod(_tiny_model(use_aux=False), "mmif")]
    col = DiversityColumn(rows, num_samples=3, seed=5, distance=_l1, distance_name="L1")
    assert [m.name for m in col.sampling] == ["fake"]
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 0
    batch = dict(image=torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, mask=mask)
    col.update(batch, start=0)
    fills = model.sample(batch, 3, seed=5)["composite"]
    expected = pairwise_diversity(fills, _l1).mean()
    values = col.compute()
    assert values["fake"] == pytest.approx(float(expected)) and values["fake"] > 0
    assert values["telea"] is None and values["mmif"] is None
    assert "MMInvertFill gives one fill per input" in col.info()["unavailable"]["mmif"]


@pytest.mark.parametrize("bucket", ["0-0.4", "0.4-1", "0-1"])
def test_wide_buckets_draw_masks_across_their_range(bucket, tmp_path):
    assert bucket_ratio(bucket) == "uniform" and bucket_ratio("0.1-0.3") == "lowest"
    masks = EvalMaskSet(tmp_path, 32, bucket, count=60, seed=3, ratio=bucket_ratio(bucket)).ensure()
    lo, hi = masks.lo, masks.hi
    ratios = np.array([hole_ratio(masks.load(i)) for i in range(60)])
    assert (ratios > 0).all() and (ratios < 1).all()  # every mask has a hole and some context
    assert (ratios >= lo - 1e-6).all() and (ratios <= hi + 1e-6).all()
    # spread over the bucket, not piled up at lo (as "lowest" does)
    assert ratios.max() - ratios.min() > 0.5 * (hi - lo)
    assert masks.verify() and json.loads(masks.manifest_path.read_text())["ratio"] == "uniform"
    lowest = np.array([hole_ratio(BucketMasks(lo, hi)(np.random.default_rng(i), 32, 32)) for i in range(60)])
    assert lowest.max() < ratios.max()


def test_sets_drawn_another_way_are_not_mixed(tmp_path):
    EvalMaskSet(tmp_path, 32, "0.1-0.3", count=3, ratio="uniform").ensure()
    lowest = EvalMaskSet(tmp_path, 32, "0.1-0.3", count=3).ensure()  # its own folder
    assert lowest.dir.name == "0.10-0.30" and (tmp_path / "32" / "0.10-0.30_uniform").is_dir()
    assert "ratio" not in json.loads(lowest.manifest_path.read_text())  # manifests of the original sets unchanged


def _evaluate(ckpt: Path, out: Path, data_dir: Path, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("evaluate", overrides=[f"ckpt={ckpt}", f"output_dir={out}", f"paths.data_dir={data_dir}",
                                             "num_images=4", "+data.source.num_test=4", "batch_size=2",
                                             "buckets=[0-0.4,0.4-1,0-1]", "metrics=[psnr,l1_hole,diversity]",
                                             "feature_cache=null", *overrides])
    return evaluate(cfg)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)


def test_evaluate_sampling_checkpoint_reports_diversity(tmp_path, offline):
    ckpt = save_bundle(tiny_fake_sampler(gate=-1.0), tmp_path / "fake.pt")
    res = _evaluate(ckpt, tmp_path / "a", tmp_path / "data")
    again = _evaluate(ckpt, tmp_path / "b", tmp_path / "data")
    other_seed = _evaluate(ckpt, tmp_path / "c", tmp_path / "data", "diversity.seed=7")
    assert res["metrics"] == ["psnr", "l1_hole", "diversity", "gap"]
    for bucket in ("0-0.4", "0.4-1", "0-1"):
        value = res["results"]["mminvert"][bucket]["diversity"]
        assert value > 0 and np.isfinite(value)
        assert res["results"]["telea"][bucket]["diversity"] is None
        assert again["results"]["mminvert"][bucket]["diversity"] == value  # deterministic per seed
        assert other_seed["results"]["mminvert"][bucket]["diversity"] != value
    # larger holes leave more room for different fills
    div = {b: res["results"]["mminvert"][b]["diversity"] for b in ("0-0.4", "0.4-1")}
    assert div["0.4-1"] > div["0-0.4"]
    saved = json.loads((tmp_path / "a" / "results.json").read_text())
    assert saved["diversity"]["distance"] == OFFLINE_FALLBACK and saved["diversity"]["num_samples"] == 2
    assert "telea" in saved["diversity"]["unavailable"]
    assert {"psnr", "l1_hole", "gap"} <= set(saved["results"]["mminvert"]["0-1"])  # the usual keys stay
    report = (tmp_path / "a" / "report.md").read_text()
    assert f"mean pairwise {OFFLINE_FALLBACK} between 2 fills" in report and "n/a for telea" in report
    assert "diversity↑ 0–40%" in (tmp_path / "a" / "table.md").read_text()
    assert "ratio=spread" in saved["masks"]  # hole ratios spread over each wide bucket
    for bucket, (lo, hi) in (("0-0.4", (0, 0.4)), ("0.4-1", (0.4, 1)), ("0-1", (0, 1))):
        r = saved["hole_ratios"][bucket]
        assert lo <= r["min"] <= r["median"] <= r["max"] <= hi


def test_evaluate_mminvertfill_has_no_diversity_and_says_why(tmp_path, offline):
    ckpt = save_bundle(_tiny_model(use_aux=False), tmp_path / "mmif.pt")
    res = _evaluate(ckpt, tmp_path / "a", tmp_path / "data", "baselines=[]", "buckets=[0-0.4]")
    assert res["results"]["mminvert"]["0-0.4"]["diversity"] is None
    assert res["diversity"]["unavailable"] == {"mminvert": "MMInvertFill gives one fill per input (it cannot sample)"}
    assert res["diversity"]["distance"] is None  # no distance network was built for nothing
    assert "| mminvert |" in (tmp_path / "a" / "table.md").read_text()
    assert "n/a" in (tmp_path / "a" / "table.md").read_text()


def test_hole_l1_diversity_is_the_mean_hole_difference_in_unit_range():
    a = torch.zeros(1, 3, 4, 4)
    fills = torch.stack([a, a + 0.2, a - 0.2], dim=1)  # pairwise |differences| 0.2, 0.2, 0.4 in [-1, 1]
    mask = torch.ones(1, 1, 4, 4)
    mask[..., :2, :] = 0  # the hole: top half
    for k in range(3):
        fills[:, k, :, 2:] = k - 1.0  # the known rows differ between fills: they must not count
    expected = (0.1 + 0.1 + 0.2) / 3  # halved: [0, 1] units
    assert torch.allclose(hole_l1_diversity(fills, mask).float(), torch.tensor([expected]), atol=1e-6)
