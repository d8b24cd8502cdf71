"""Fast ops against their straightforward reference implementations."""
import pytest
import torch

from mminvert.stylegan2.modconv import modulated_conv2d
from mminvert.stylegan2.ops import blur, downsample2d, fir_kernel, upsample2d
from mminvert.stylegan2.reference_ops import modulated_conv2d_ref, upfirdn2d_ref


def test_upsample2d_matches_upfirdn():
    x = torch.randn(2, 5, 7, 9)
    k = fir_kernel(gain=4.0)
    torch.testing.assert_close(upsample2d(x, k), upfirdn2d_ref(x, k, up=2, pad=(2, 1)))
    assert upsample2d(x, k).shape == (2, 5, 14, 18)


def test_downsample2d_matches_upfirdn():
    x = torch.randn(2, 3, 8, 12)
    k = fir_kernel()
    torch.testing.assert_close(downsample2d(x, k), upfirdn2d_ref(x, k, down=2, pad=(1, 1)))


def test_blur_is_a_true_convolution_for_asymmetric_kernels():
    x = torch.randn(1, 2, 6, 6)
    k = torch.arange(1.0, 10.0).reshape(3, 3)
    torch.testing.assert_close(blur(x, k, (1, 1)), upfirdn2d_ref(x, k, pad=(1, 1)))


@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("demodulate", [False, True])
@pytest.mark.parametrize("fused", [False, True])
def test_modulated_conv_matches_grouped_reference(up, demodulate, fused):
    torch.manual_seed(0)
    x, w, s = torch.randn(3, 8, 6, 6), torch.randn(5, 8, 3, 3) / 8, torch.randn(3, 8)
    k = fir_kernel()
    out = modulated_conv2d(x, w, s, demodulate=demodulate, up=up, kernel=k, fused=fused)
    ref = modulated_conv2d_ref(x, w, s, demodulate=demodulate, up=up, kernel=k)
    assert out.shape == ((3, 5, 12, 12) if up else (3, 5, 6, 6))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_demodulation_normalises_output_weights():
    # With demodulation each output channel's effective weights have unit L2 norm.
    torch.manual_seed(1)
    w, s = torch.randn(4, 6, 3, 3), torch.rand(2, 6) + 0.5
    norms = []  # probe with a unit impulse per input channel
    for c in range(6):
        xi = torch.zeros(2, 6, 5, 5)
        xi[:, c, 2, 2] = 1
        norms.append(modulated_conv2d(xi, w, s).square().sum([2, 3]))
    torch.testing.assert_close(sum(norms), torch.ones(2, 4), atol=1e-5, rtol=1e-5)
