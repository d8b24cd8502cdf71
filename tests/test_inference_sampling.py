"""Several fills per input: `Inpainter(num_samples, seed)` and `inpaint.py num_samples=K seed=S`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mminvert.inference import Inpainter, save_bundle
from mminvert.inference.cli import inpaint_paths
from tests.fake_sampler import tiny_fake_sampler
from tests.test_inversion import _tiny_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sampler() -> Inpainter:
    return Inpainter(tiny_fake_sampler())


def _pair(seed: int, h: int = 40, w: int = 56) -> tuple[np.ndarray, np.ndarray]:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.full((h, w), 255, np.uint8)
    mask[10:30, 12:40] = 0
    return img, mask


def test_k_fills_keep_known_pixels_differ_and_repeat_per_seed(sampler):
    img, mask = _pair(0)
    fills = sampler(img, mask, num_samples=3, seed=4)
    assert isinstance(fills, list) and len(fills) == 3
    known = mask > 127
    for f in fills:
        assert f.shape == img.shape and f.dtype == np.uint8
        np.testing.assert_array_equal(f[known], img[known])
    assert all(np.abs(fills[a][~known].astype(int) - fills[b][~known]).mean() > 1 for a, b in ((0, 1), (0, 2), (1, 2)))
    again = sampler(img, mask, num_samples=3, seed=4)
    for f, g in zip(fills, again):
        np.testing.assert_array_equal(f, g)
    other = sampler(img, mask, num_samples=3, seed=5)
    assert np.abs(other[0].astype(int) - fills[0]).mean() > 0.1


def test_results_do_not_depend_on_batching(sampler):
    (a, ma), (b, mb) = _pair(1), _pair(2)
    both = sampler.batch([a, b], [ma, mb], num_samples=2, seed=10)
    alone = sampler(b, mb, num_samples=2, seed=11)  # item 1 of a call uses seed + 1
    assert len(both) == 2 and all(len(r) == 2 for r in both)
    for f, g in zip(both[1], alone):
        np.testing.assert_array_equal(f, g)


def test_one_fill_without_seed_is_the_deterministic_forward(sampler):
    img, mask = _pair(3)
    one = sampler(img, mask)
    assert isinstance(one, np.ndarray)
    np.testing.assert_array_equal(one, sampler(img, mask))
    drawn = sampler(img, mask, seed=0)  # a seed asks for a drawn fill
    first_of_two = sampler(img, mask, num_samples=2, seed=0)[0]
    np.testing.assert_array_equal(drawn, first_of_two)
    assert np.abs(drawn.astype(int) - one).mean() > 0.1
    defaults = Inpainter(sampler.model, num_samples=2, seed=0)  # constructor defaults apply to calls
    np.testing.assert_array_equal(defaults(img, mask)[1], sampler(img, mask, num_samples=2, seed=0)[1])


def test_mminvertfill_refuses_several_fills():
    model = _tiny_model(use_aux=False)
    with pytest.raises(ValueError, match=r"num_samples=2: MMInvertFill gives one fill per input"):
        Inpainter(model, num_samples=2)
    inp = Inpainter(model)
    img, mask = _pair(0, 32, 32)
    with pytest.raises(ValueError, match="MMInvertFill gives one fill per input"):
        inp(img, mask, num_samples=3)
    with pytest.raises(ValueError, match="whole number >= 1"):
        inp(img, mask, num_samples=0)
    np.testing.assert_array_equal(inp(img, mask, seed=3), inp(img, mask))  # a seed changes nothing for it


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "in"
    d.mkdir()
    for i in range(2):
        img, mask = _pair(i)
        Image.fromarray(img).save(d / f"im{i}.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return d, tmp_path / "mask.png"


def test_inpaint_paths_writes_k_named_files_and_refuses_overwrites(sampler, tmp_path):
    inputs, mask = _folder(tmp_path)
    out = tmp_path / "out"
    written = inpaint_paths(sampler, inputs, mask, out, num_samples=2, seed=7)
    assert sorted(p.name for p in written) == ["im0_sample0.png", "im0_sample1.png", "im1_sample0.png", "im1_sample1.png"]
    first = {p.name: p.read_bytes() for p in written}
    assert first["im0_sample0.png"] != first["im0_sample1.png"]
    with pytest.raises(FileExistsError, match="im0_sample0.png exists"):
        inpaint_paths(sampler, inputs, mask, out, num_samples=2, seed=8)
    assert {p.name: p.read_bytes() for p in written} == first  # nothing replaced
    again = inpaint_paths(sampler, inputs, mask, out, num_samples=2, seed=7, overwrite=True)
    assert {p.name: p.read_bytes() for p in again} == first  # same seed, same files
    (out / "im1_sample1.png").write_bytes(b"user's file")  # changed since: never replaced
    with pytest.raises(FileExistsError, match="was not written by inpaint.py"):
        inpaint_paths(sampler, inputs, mask, out, num_samples=2, seed=7, overwrite=True)
    one = inpaint_paths(sampler, inputs, mask, tmp_path / "one")
    assert sorted(p.name for p in one) == ["im0.png", "im1.png"]


def test_inpaint_script_refuses_several_fills_from_mminvertfill(tmp_path):
    ckpt = save_bundle(_tiny_model(use_aux=False), tmp_path / "mmif.pt")
    inputs, mask = _folder(tmp_path)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(REPO / "inpaint.py"), f"ckpt={ckpt}", f"input={inputs}", f"mask={mask}",
                        f"output={out}", "num_samples=2", "seed=1", f"hydra.run.dir={tmp_path / 'hydra'}"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode != 0
    assert "num_samples=2: MMInvertFill gives one fill per input" in r.stderr
    assert not out.exists() or not any(out.iterdir())



def test_diverse_model_one_fill_repeats_and_leaves_the_global_rng_alone():
    """DiverseInversion's forward draws its random code from the global RNG: Inpainter draws it from seed 0 in a
    forked state, so one fill without a seed repeats from call to call, and the caller's RNG is untouched."""
    import torch

    from tests.test_diverse_model import _model

    inp = Inpainter(_model())
    img, mask = _pair(4, 32, 32)
    torch.manual_seed(7)
    first = inp(img, mask)
    after_first = torch.rand(3)
    torch.manual_seed(7)
    again = inp(img, mask)
    np.testing.assert_array_equal(first, again)
    assert torch.equal(after_first, torch.rand(3))  # the global stream continued as if nothing had drawn from it
    torch.manual_seed(99)
    np.testing.assert_array_equal(first, inp(img, mask))
