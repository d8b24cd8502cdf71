"""Inpainter: any size and mode, known pixels byte-identical, bundles reproduce the model exactly."""
import numpy as np
import pytest
import torch
from PIL import Image

from mminvert.inference import Inpainter, load_bundle
from mminvert.io import CheckpointError
from tests.test_inversion import _tiny_model


@pytest.fixture(scope="module")
def inpainter():
    return Inpainter(_tiny_model(k=5))


def _mask(h, w, box):
    m = np.full((h, w), 255, np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = 0
    return m


@pytest.mark.parametrize("size", [(31, 47), (64, 64), (480, 640), (1000, 1500)])
def test_any_size_keeps_known_pixels(inpainter, size):
    h, w = size
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = _mask(h, w, (h // 3, h // 2 + 1, w // 4, w // 2))
    out = inpainter(img, mask)
    known = mask > 127
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[known], img[known])
    assert (out[~known] != img[~known]).mean() > 0.5  # the hole was actually filled


def test_pil_grayscale_and_rgba(inpainter):
    rng = np.random.default_rng(1)
    gray = Image.fromarray(rng.integers(0, 256, (50, 70), dtype=np.uint8), "L")
    m = _mask(50, 70, (10, 20, 10, 30))
    out = inpainter(gray, Image.fromarray(m))
    assert out.mode == "L" and out.size == gray.size
    assert np.array_equal(np.asarray(out)[m > 127], np.asarray(gray)[m > 127])
    rgba = Image.fromarray(rng.integers(0, 256, (40, 60, 4), dtype=np.uint8), "RGBA")
    m = _mask(40, 60, (5, 25, 5, 25))
    out = inpainter(rgba, m)
    a, b = np.asarray(out), np.asarray(rgba)
    assert out.mode == "RGBA" and np.array_equal(a[m > 127], b[m > 127]) and np.array_equal(a[..., 3], b[..., 3])


def test_empty_hole_all_hole_and_inverted_masks(inpainter):
    img = np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert np.array_equal(inpainter(img, np.full((40, 40), 255, np.uint8)), img)
    out = inpainter(img, np.zeros((40, 40), np.uint8))
    assert out.shape == img.shape and (out != img).mean() > 0.5
    m = _mask(40, 40, (0, 10, 0, 10))
    assert np.array_equal(inpainter(img, 255 - m, mask_invert=True), inpainter(img, m))


def test_tensor_input_and_guidance(inpainter):
    t = torch.rand(3, 33, 45) * 2 - 1
    m = torch.ones(1, 33, 45)
    m[:, 5:10, 5:20] = 0
    seg = np.random.default_rng(3).integers(0, 5, (33, 45))
    edge = np.zeros((33, 45))
    out = inpainter(t, m, seg=seg, edge=edge)
    assert torch.equal(out[:, m[0] > 0.5], t[:, m[0] > 0.5]) and out.shape == t.shape


def test_bad_inputs(inpainter):
    img = np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(ValueError, match="mask size"):
        inpainter(img, np.zeros((20, 31), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        inpainter(img.astype(np.float32), np.zeros((20, 30), np.uint8))
    with pytest.raises(TypeError):
        inpainter("photo.png", np.zeros((20, 30), np.uint8))


def test_batch_api_matches_single_calls(inpainter):
    rng = np.random.default_rng(4)
    imgs = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(3)]
    masks = [_mask(40, 50, (5 + i, 20 + i, 5, 25)) for i in range(3)]
    outs = inpainter.batch(imgs, masks)
    for img, m, o in zip(imgs, masks, outs):
        np.testing.assert_array_equal(o, inpainter(img, m))


def test_bundle_reproduces_outputs_exactly(inpainter, tmp_path):
    path = inpainter.export(tmp_path / "model.pt")
    with pytest.raises(FileExistsError):
        inpainter.export(path)
    again = Inpainter.from_checkpoint(path)
    img = np.random.default_rng(5).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    m = _mask(64, 80, (10, 40, 10, 40))
    np.testing.assert_array_equal(again(img, m), inpainter(img, m))
    torch.testing.assert_close(again.model.sml.online, inpainter.model.sml.online, rtol=0, atol=0)


def test_wrong_checkpoint_kind(tmp_path, sg2):
    with pytest.raises(CheckpointError, match="not an mminvert inpainting checkpoint"):
        load_bundle(sg2.rosinality)
