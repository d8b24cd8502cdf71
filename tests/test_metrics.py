"""Reconstruction metrics against scikit-image / torchmetrics, IDS, mIoU, LPIPS policy, the suite."""
import numpy as np
import pytest
import torch

from mminvert.metrics import IDS, ConfusionMatrix, InpaintingMetrics, LPIPSMetric, diversity_lpips, l1_hole, psnr, ssim


def _pair(b=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    x = (y + 0.2 * torch.randn(b, 3, size, size, generator=g)).clamp(-1, 1)
    return x, y


def test_psnr_and_ssim_match_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    x, y = _pair()
    for i in range(2):
        a, b = ((x[i] + 1) / 2).permute(1, 2, 0).numpy(), ((y[i] + 1) / 2).permute(1, 2, 0).numpy()
        ref_psnr = metrics.peak_signal_noise_ratio(b, a, data_range=1.0)
        ref_ssim = metrics.structural_similarity(b, a, data_range=1.0, channel_axis=2, gaussian_weights=True,
                                                 sigma=1.5, use_sample_covariance=False)
        assert psnr(x, y)[i].item() == pytest.approx(ref_psnr, rel=1e-4)
        assert ssim(x, y)[i].item() == pytest.approx(ref_ssim, abs=2e-4)


def test_ssim_matches_torchmetrics():
    tm = pytest.importorskip("torchmetrics.functional.image")
    x, y = _pair(seed=3)
    ref = tm.structural_similarity_index_measure((x + 1) / 2, (y + 1) / 2, data_range=1.0, reduction="none")
    torch.testing.assert_close(ssim(x, y), ref.float(), atol=1e-3, rtol=1e-3)


def test_l1_hole_counts_only_hole_pixels():
    y = torch.zeros(1, 3, 4, 4)
    x = y.clone()
    mask = torch.ones(1, 1, 4, 4)
    mask[..., :2, :] = 0
    x[..., :2, :] = 1.0  # error 0.5 in [0, 1] units inside the hole
    x[..., 2:, :] = -1.0  # large error outside the hole: ignored
    assert l1_hole(x, y, mask).item() == pytest.approx(0.5)


def test_ids_separable_and_identical():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 8, generator=g)
    ids = IDS()
    ids.update(real, real + 10)  # trivially separable: both scores 0
    p, u = ids.compute()
    assert p == 0.0 and u == 0.0
    ids.reset()
    ids.update(real[:100], real[100:])  # same distribution: an SVM cannot tell them apart well
    p, u = ids.compute()
    assert u > 0.2 and 0.2 < p < 0.8


def test_confusion_matrix_miou():
    cm = ConfusionMatrix(3)
    target = torch.tensor([[[0, 0, 1, 255]]])
    pred = torch.tensor([[[0, 1, 1, 2]]])
    cm.update(pred, target)
    # class 0: inter 1, union 2; class 1: inter 1, union 2; class 2 absent everywhere (255 ignored)
    assert cm.miou() == pytest.approx(0.5)


def test_lpips_refuses_random_backbone(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("MMINVERT_WEIGHTS", raising=False)
    from mminvert.io import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="alexnet"):
        LPIPSMetric("alex")
    with pytest.raises(ValueError, match="allow_random"):
        LPIPSMetric("alex", pretrained=False)
    m = LPIPSMetric("alex", pretrained=False, allow_random=True)
    x, y = _pair()
    d = m(x, y)
    assert d.shape == (2,) and (d > 0).all() and m(x, x).abs().max() < 1e-6
    assert diversity_lpips([x, y, x], m) > 0


class _FakeInception(torch.nn.Module):
    info = {"weights": "fake"}

    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1).double()


def test_suite_streams_and_matches_direct_computation():
    suite = InpaintingMetrics(("fid", "p_ids", "u_ids", "ssim", "psnr", "l1_hole", "miou"), num_classes=3,
                              inception=_FakeInception())
    xs, ys, ms = [], [], []
    for s in range(3):
        x, y = _pair(b=8, seed=s)
        m = (torch.rand(8, 1, 32, 32) > 0.5).float()
        seg = torch.randint(0, 3, (8, 32, 32))
        suite.update(x, y, m, torch.nn.functional.one_hot(seg, 3).permute(0, 3, 1, 2).float(), seg)
        xs.append(x), ys.append(y), ms.append(m)
    out = suite.compute()
    assert set(out) == {"fid", "p_ids", "u_ids", "ssim", "psnr", "l1_hole", "miou"}
    x, y, m = torch.cat(xs), torch.cat(ys), torch.cat(ms)
    assert out["psnr"] == pytest.approx(psnr(x, y).mean().item(), rel=1e-5)
    assert out["l1_hole"] == pytest.approx(l1_hole(x, y, m).mean().item(), rel=1e-5)
    assert out["miou"] == pytest.approx(1.0)
    assert out["fid"] > 0 and np.isfinite(out["fid"])
    with pytest.raises(ValueError, match="unknown metrics"):
        InpaintingMetrics(("bleu",))
