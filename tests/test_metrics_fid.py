"""FID: streaming statistics and distance agree with torch-fidelity on the same features; the shipped
Inception weights are found and give 2048-d features."""
import numpy as np
import pytest
import torch

from mminvert.metrics import FID, FeatureStatistics, InceptionFeatures, find_inception_weights, frechet_distance


def test_streaming_statistics_match_numpy():
    f = torch.randn(300, 16, dtype=torch.float64) * torch.linspace(0.5, 2, 16) + 3
    st = FeatureStatistics(16)
    for chunk in f.split(37):
        st.update(chunk)
    mu, cov = st.mean_cov()
    np.testing.assert_allclose(mu.numpy(), f.mean(0).numpy(), rtol=1e-10)
    np.testing.assert_allclose(cov.numpy(), np.cov(f.numpy(), rowvar=False), rtol=1e-8, atol=1e-10)


def test_frechet_distance_matches_torch_fidelity():
    fidelity = pytest.importorskip("torch_fidelity.metric_fid")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 32, generator=g, dtype=torch.float64)
    w = torch.randn(32, 32, generator=g, dtype=torch.float64)
    b = torch.randn(400, 32, generator=g, dtype=torch.float64) @ w * 0.3 + 0.5
    sa, sb = FeatureStatistics(32), FeatureStatistics(32)
    sa.update(a)
    sb.update(b)
    ours = frechet_distance(*sa.mean_cov(), *sb.mean_cov())
    stats_a, stats_b = fidelity.fid_features_to_statistics(a), fidelity.fid_features_to_statistics(b)
    ref = fidelity.fid_statistics_to_metric(stats_a, stats_b, verbose=False)[fidelity.KEY_METRIC_FID]
    assert ours == pytest.approx(float(ref), rel=1e-6)
    assert frechet_distance(*sa.mean_cov(), *sa.mean_cov()) == pytest.approx(0.0, abs=1e-6)


class _FakeFeatures(torch.nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :8].double()


def test_fid_module_streams_and_resets():
    fid = FID(features=_FakeFeatures())
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        fid.update(torch.rand(20, 3, 4, 4, generator=g), real=True)
        fid.update(torch.rand(20, 3, 4, 4, generator=g) * 0.5, real=False)
    assert fid.real.n == 60 and fid.compute() > 0
    fid.reset()
    with pytest.raises(ValueError, match="at least 2"):
        fid.compute()


def test_missing_inception_weights_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt does not exist"):
        find_inception_weights(tmp_path / "nothing.pt")


def test_shipped_inception_weights_give_2048_features():
    try:
        net = InceptionFeatures()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    f = net(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and f.min() >= 0  # pool features after ReLU
    torch.testing.assert_close(net(x), f)
    assert net.info["sha256"] and "bilinear" in net.info["resize"]
