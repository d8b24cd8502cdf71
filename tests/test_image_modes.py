"""Images in, images out: every mode and depth goes through inpaint_paths (file -> file) at its own depth; the
output has the input's mode, depth and format, known pixels bit-identical, alpha/palette/transparency kept;
masks may carry the hole in their alpha channel."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mminvert.inference import Inpainter
from mminvert.inference.cli import inpaint_paths
from mminvert.inference.image_files import read_image_file
from mminvert.inference.image_formats import NativeImage, known_pixels
from tests.test_inversion import _tiny_model

H, W = 40, 52
HOLE = (slice(10, 26), slice(12, 34))


@pytest.fixture(scope="module")
def inpainter():
    return Inpainter(_tiny_model(k=5))


def _mask_file(path: Path) -> np.ndarray:
    m = np.full((H, W), 255, np.uint8)
    m[HOLE] = 0
    Image.fromarray(m).save(path)
    return m > 127


def _rng(seed=0):
    return np.random.default_rng(seed)


# Each case writes an image file and returns how to compare pixels: (file name, writer).
def _l(p):
    Image.fromarray(_rng().integers(0, 256, (H, W), dtype=np.uint8)).save(p)


def _la(p):
    Image.fromarray(_rng().integers(0, 256, (H, W, 2), dtype=np.uint8), "LA").save(p)


def _rgb(p):
    Image.fromarray(_rng().integers(0, 256, (H, W, 3), dtype=np.uint8)).save(p)


def _rgba(p):
    Image.fromarray(_rng().integers(0, 256, (H, W, 4), dtype=np.uint8)).save(p)


def _palette(p):
    idx = _rng().integers(0, 16, (H, W), dtype=np.uint8)
    idx[:6] = 0  # a transparent band
    im = Image.frombytes("P", (W, H), idx.tobytes())
    im.putpalette(_rng(1).integers(0, 256, 16 * 3).tolist())
    im.save(p, transparency=0)


def _grey16(p):
    Image.fromarray(_rng().integers(0, 65536, (H, W), dtype=np.uint16)).save(p)


def _rgb16(p):  # OpenCV writes BGR; which channel is which does not matter for random data
    cv2.imwrite(str(p), _rng().integers(0, 65536, (H, W, 3), dtype=np.uint16))


def _rgba16(p):
    cv2.imwrite(str(p), _rng().integers(0, 65536, (H, W, 4), dtype=np.uint16))


def _int32(p):
    Image.fromarray(_rng().integers(-5000, 200000, (H, W), dtype=np.int32)).save(p)


def _float32(p):
    Image.fromarray((_rng().random((H, W)) * 4.2 - 0.5).astype(np.float32)).save(p)


CASES = {
    # name: (file, writer, expected PIL mode or numpy dtype/channels of the output, output file)
    "L": ("img.png", _l, "L", "img.png"),
    "LA": ("img.png", _la, "LA", "img.png"),
    "P_transparency": ("img.png", _palette, "P", "img.png"),
    "RGB_jpg": ("img.jpg", _rgb, "RGB", "img.png"),
    "RGB": ("img.png", _rgb, "RGB", "img.png"),
    "RGBA": ("img.png", _rgba, "RGBA", "img.png"),
    "I;16_png": ("img.png", _grey16, "I;16", "img.png"),
    "RGB16_png": ("img.png", _rgb16, (np.uint16, 3), "img.png"),
    "RGBA16_png": ("img.png", _rgba16, (np.uint16, 4), "img.png"),
    "RGB16_tiff": ("img.tif", _rgb16, (np.uint16, 3), "img.tif"),
    "I_tiff": ("img.tif", _int32, "I", "img.tif"),
    "F_tiff": ("img.tif", _float32, "F", "img.tif"),
}


def _pixels(image) -> np.ndarray:
    return np.asarray(image) if isinstance(image, Image.Image) else image


@pytest.mark.parametrize("case", sorted(CASES))
def test_file_round_trip_keeps_mode_depth_and_known_pixels(inpainter, tmp_path, case):
    name, writer, expected, out_name = CASES[case]
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / name
    writer(src)
    known = _mask_file(tmp_path / "mask.png")
    inpaint_paths(inpainter, src, tmp_path / "mask.png", tmp_path / "out")
    out_path = tmp_path / "out" / out_name
    before, after = read_image_file(src), read_image_file(out_path)
    if isinstance(expected, str):
        assert isinstance(after, Image.Image) and after.mode == expected, getattr(after, "mode", type(after))
    else:
        dtype, channels = expected
        assert isinstance(after, np.ndarray) and after.dtype == dtype and after.shape == (H, W, channels)
        raw = cv2.imread(str(out_path), cv2.IMREAD_UNCHANGED)  # what any other tool reads from the file
        assert raw.dtype == np.uint16 and raw.shape == (H, W, channels)
    a, b = _pixels(before), _pixels(after)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(b[known], a[known])  # known pixels bit-identical
    assert (b[~known] != a[~known]).any()  # the hole was filled
    if a.ndim == 3 and case.startswith(("LA", "RGBA")):
        np.testing.assert_array_equal(b[..., -1], a[..., -1])  # alpha untouched, in the hole too
    if expected == "P":
        assert after.getpalette() == before.getpalette() and after.info.get("transparency") == 0
        np.testing.assert_array_equal(b[:6], a[:6])  # transparent pixels stay transparent
        assert (b[~known & (a != 0)] != 0).all()  # opaque hole pixels take opaque palette colours


def test_sixteen_bit_is_read_at_its_depth(inpainter):
    """A 16-bit image reaches the model as its 8-bit counterpart would (not clipped to white), and the fill
    uses the 16-bit range."""
    rgb8 = _rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    rgb16 = rgb8.astype(np.uint16) * 257
    torch.testing.assert_close(NativeImage.of(rgb16).model_input(), NativeImage.of(rgb8).model_input())
    grey16 = Image.fromarray(rgb16[..., 0])
    assert grey16.mode == "I;16"
    grey8 = Image.fromarray(rgb8[..., 0])
    torch.testing.assert_close(NativeImage.of(grey16).model_input(), NativeImage.of(grey8).model_input())
    m = np.full((H, W), 255, np.uint8)
    m[HOLE] = 0
    out16, out8 = inpainter(rgb16, m), inpainter(rgb8, m)
    hole = m == 0
    diff = np.abs(out16[hole].astype(np.float64) / 257 - out8[hole])
    assert diff.max() <= 0.51  # same fill, at 16-bit precision


def test_float_and_int32_fill_stays_in_the_known_range(inpainter):
    f = (_rng(4).random((H, W)) * 0.01 + 1000.0).astype(np.float32)
    m = np.full((H, W), 255, np.uint8)
    m[HOLE] = 0
    out = np.asarray(inpainter(Image.fromarray(f), m))
    known = m > 127
    assert out.dtype == np.float32 and np.array_equal(out[known], f[known])
    assert f[known].min() <= out[~known].min() and out[~known].max() <= f[known].max()


def test_mask_hole_in_the_alpha_channel(inpainter, tmp_path):
    img = _rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)
    rgba = np.full((H, W, 4), 255, np.uint8)  # white, opaque ...
    rgba[HOLE + (3,)] = 0                      # ... except a transparent hole
    Image.fromarray(img).save(tmp_path / "img.png")
    Image.fromarray(rgba, "RGBA").save(tmp_path / "mask.png")
    expected = np.ones((H, W), bool)
    expected[HOLE] = False
    mask = read_image_file(tmp_path / "mask.png")
    np.testing.assert_array_equal(known_pixels(mask), expected)
    np.testing.assert_array_equal(known_pixels(mask, invert=True), ~expected)
    out = inpainter(img, mask)
    assert (out[~expected] != img[~expected]).any() and np.array_equal(out[expected], img[expected])
    la = np.stack([np.full((H, W), 255, np.uint8), rgba[..., 3]], -1)
    np.testing.assert_array_equal(known_pixels(Image.fromarray(la, "LA")), expected)
    np.testing.assert_array_equal(known_pixels(rgba), expected)  # numpy (H, W, 4) masks too
    opaque_black_hole = np.full((H, W, 4), 255, np.uint8)
    opaque_black_hole[HOLE + (slice(0, 3),)] = 0  # the classic convention still works with alpha present
    np.testing.assert_array_equal(known_pixels(Image.fromarray(opaque_black_hole, "RGBA")), expected)


def test_sixteen_bit_masks_threshold_at_half_range():
    m = np.full((H, W), 65535, np.uint16)
    m[HOLE] = 300  # dark but not zero: a hole (8-bit conversion would call it white)
    expected = np.ones((H, W), bool)
    expected[HOLE] = False
    np.testing.assert_array_equal(known_pixels(Image.fromarray(m)), expected)
    np.testing.assert_array_equal(known_pixels(m), expected)


def test_unsupported_modes_are_refused_clearly(inpainter):
    cmyk = Image.new("CMYK", (W, H))
    with pytest.raises(ValueError, match="unsupported image mode 'CMYK'"):
        inpainter(cmyk, np.zeros((H, W), np.uint8))
