"""Mask generators, evaluation sets (buckets, manifests) and user mask folders."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mminvert.data import (
    BoxMasks,
    BucketMasks,
    EvalMaskSet,
    FolderMasks,
    FreeFormMasks,
    MixedMasks,
    ModalityMasks,
    OutpaintMasks,
    hole_ratio,
    read_mask_file,
)


@pytest.mark.parametrize("gen", [FreeFormMasks(), BoxMasks(), OutpaintMasks("center"), OutpaintMasks("corners"),
                                 OutpaintMasks("side"), MixedMasks([FreeFormMasks(), BoxMasks()], [0.5, 0.5])])
def test_generators_are_binary_seeded_and_have_holes(gen):
    a = gen(np.random.default_rng(3), 48, 64)
    b = gen(np.random.default_rng(3), 48, 64)
    assert a.shape == (48, 64) and a.dtype == np.float32 and set(np.unique(a)) <= {0.0, 1.0}
    assert np.array_equal(a, b) and 0 < hole_ratio(a) < 1


def test_bucket_masks_hit_their_bucket():
    for lo, hi in ((0.1, 0.3), (0.4, 0.6), (0.7, 0.9)):
        gen = BucketMasks(lo, hi)
        rng = np.random.default_rng(0)
        for _ in range(10):
            assert lo <= hole_ratio(gen(rng, 32, 32)) <= hi


@pytest.mark.parametrize("lo, hi", [(0.0, 0.4), (0.0, 1.0)])
def test_bucket_masks_from_zero_have_holes(lo, hi):
    gen = BucketMasks(lo, hi)
    rng = np.random.default_rng(0)
    ratios = [hole_ratio(gen(rng, 32, 32)) for _ in range(50)]
    assert all(0 < r <= hi for r in ratios), ratios


def test_bucket_masks_above_zero_draw_what_version_1_drew():
    """lo > 0: the same masks as the original loop (which drew parts only while the ratio was below lo)."""
    def version_1(gen, rng, h, w):
        while True:
            mask = np.ones((h, w), np.float32)
            while hole_ratio(mask) < gen.lo:
                mask = np.minimum(mask, gen.parts(rng, h, w))
            if hole_ratio(mask) <= gen.hi:
                return mask

    for lo, hi in ((0.05, 0.2), (0.4, 0.6)):
        gen = BucketMasks(lo, hi)
        for seed in range(20):
            new = gen(np.random.default_rng(seed), 40, 48)
            assert np.array_equal(new, version_1(gen, np.random.default_rng(seed), 40, 48))


def test_committed_eval_masks_still_regenerate():
    root = Path(__file__).resolve().parents[1] / "data" / "eval_masks"
    for res in (64, 256):
        masks = EvalMaskSet(root, res, "0.4-0.6", count=256)
        for i in (0, 1, 100, 255):
            assert np.array_equal(masks.draw(i), read_mask_file(masks.dir / f"{i:05d}.png")), (res, i)


def test_modality_masks():
    mask = BoxMasks()(np.random.default_rng(0), 16, 16)
    assert np.array_equal(ModalityMasks()(np.random.default_rng(0), mask), mask)
    assert ModalityMasks(p_withhold=1.0)(np.random.default_rng(0), mask).sum() == 0
    assert ModalityMasks(p_full=1.0)(np.random.default_rng(0), mask).min() == 1
    indep = ModalityMasks(tied=False, generator=FreeFormMasks())(np.random.default_rng(0), mask)
    assert indep.shape == mask.shape and not np.array_equal(indep, mask)
    with pytest.raises(ValueError):
        ModalityMasks(p_withhold=0.7, p_full=0.5)


def test_eval_sets_in_bucket_and_reproducible_from_manifest(tmp_path):
    for bucket in ("0.1-0.3", "0.4-0.6", "0.7-0.9"):
        s = EvalMaskSet(tmp_path, 32, bucket, count=12, seed=7).ensure()
        manifest = json.loads(s.manifest_path.read_text())
        lo, hi = manifest["bucket"]
        assert manifest["count"] == 12 and manifest["generator_version"] >= 1 and manifest["seed"] == 7
        assert all(lo <= r <= hi for r in manifest["hole_ratios"])
        for i in range(12):
            assert lo <= hole_ratio(s.load(i)) <= hi
        assert s.verify()
    # regenerating from the same parameters elsewhere gives byte-identical PNGs
    other = EvalMaskSet(tmp_path / "again", 32, "0.4-0.6", count=12, seed=7).ensure()
    first = EvalMaskSet(tmp_path, 32, "0.4-0.6", count=12, seed=7)
    for i in range(12):
        assert (first.dir / f"{i:05d}.png").read_bytes() == (other.dir / f"{i:05d}.png").read_bytes()
    with pytest.raises(ValueError, match="different parameters"):
        EvalMaskSet(tmp_path, 32, "0.4-0.6", count=12, seed=8).ensure()
    grown = EvalMaskSet(tmp_path, 32, "0.4-0.6", count=15, seed=7).ensure()  # extended, first 12 unchanged
    assert json.loads(grown.manifest_path.read_text())["count"] == 15 and grown.verify()
    assert (first.dir / "00003.png").read_bytes() == (other.dir / "00003.png").read_bytes()


def test_folder_masks_resize_threshold_and_invert(tmp_path):
    m = np.full((100, 150), 255, np.uint8)
    m[10:50, 20:80] = 0
    m[60:70, 60:70] = 100  # below the threshold: a hole
    cv2.imwrite(str(tmp_path / "a.png"), m)
    fm = FolderMasks(tmp_path, 32)
    mask = fm.load(0)
    assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0.0, 1.0} and 0 < hole_ratio(mask) < 0.5
    assert np.array_equal(FolderMasks(tmp_path, 32, invert=True).load(0), 1 - mask)


def test_bad_masks_name_the_file(tmp_path):
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[..., 0] = 255
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    with pytest.raises(ValueError, match="colour.png.*single-channel"):
        read_mask_file(tmp_path / "colour.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png.*unreadable"):
        read_mask_file(tmp_path / "broken.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderMasks(tmp_path / "nope", 32)
