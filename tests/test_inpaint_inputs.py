"""Inputs that used to go silently wrong in inpaint.py and the Inpainter: 0/1 masks, holes drawn only in
alpha, all-hole masks, an unsupported mode in a folder under both on_error policies, animated files, EXIF
orientation, output= the input folder, and paths that Hydra's lexer would not read."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mminvert.inference import Inpainter
from mminvert.inference.bundle import save_bundle
from mminvert.inference.cli import inpaint_paths
from tests.test_inversion import _tiny_model

REPO = Path(__file__).resolve().parents[1]
H, W = 30, 40
HOLE = (slice(5, 20), slice(8, 30))


@pytest.fixture(scope="module")
def inpainter():
    return Inpainter(_tiny_model(k=5))


def _rgb(seed: int = 0, size=(H, W)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _known(size=(H, W)) -> np.ndarray:
    known = np.ones(size, bool)
    known[HOLE] = False
    return known


def _keeps_exactly_the_known_pixels(out: np.ndarray, image: np.ndarray, known: np.ndarray) -> bool:
    return bool((out[known] == image[known]).all() and (out[~known] != image[~known]).any())


# ------------------------------------------------------------------------------------------ 0/1 masks

def test_a_zero_one_mask_file_is_read_as_zero_255_and_named(inpainter, tmp_path, caplog):
    image = _rgb()
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(_known().astype(np.uint8)).save(tmp_path / "mask01.png")  # 1 = known, 0 = hole
    with caplog.at_level(logging.WARNING):
        (out,) = inpaint_paths(inpainter, tmp_path / "a.png", tmp_path / "mask01.png", tmp_path / "out")
    assert _keeps_exactly_the_known_pixels(np.asarray(Image.open(out)), image, _known())
    assert f"mask {tmp_path / 'mask01.png'} holds only the values 0 and 1: read as 0 = hole, 1 = known" in caplog.text


def test_a_zero_one_numpy_mask_and_a_hole_drawn_only_in_alpha(inpainter, caplog):
    image = _rgb(1)
    with caplog.at_level(logging.WARNING):
        out = inpainter(image, _known().astype(np.uint8))  # numpy 0/1
    assert _keeps_exactly_the_known_pixels(out, image, _known()) and "mask 0 holds only the values 0 and 1" in caplog.text
    alpha_only = np.zeros((H, W, 4), np.uint8)  # black everywhere; transparent = hole
    alpha_only[..., 3] = np.where(_known(), 255, 0)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        out = inpainter(image, Image.fromarray(alpha_only, "RGBA"))
    assert _keeps_exactly_the_known_pixels(out, image, _known())
    assert "the hole is read from the alpha channel alone" in caplog.text


def test_all_hole_and_no_hole_masks_warn(inpainter, caplog):
    image = _rgb(2)
    with caplog.at_level(logging.WARNING):
        inpainter(image, np.zeros((H, W), np.uint8))
    assert "mask 0 is entirely hole: nothing of the input is kept" in caplog.text and "mask_invert=true" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        out = inpainter(image, np.full((H, W), 255, np.uint8))
    assert "mask 0 has no hole" in caplog.text and (out == image).all()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        inpainter(image, _known())  # a boolean mask is taken as given: nothing to warn about
    assert caplog.text == ""


# ------------------------------------------------------------------------------------------ on_error

def _folder_with_a_cmyk_jpeg(tmp_path: Path) -> tuple[Path, Path]:
    inp = tmp_path / "in"
    inp.mkdir()
    Image.fromarray(_rgb(3)).save(inp / "a_good.png")  # sorted first: written first without the check
    Image.fromarray(_rgb(4)).convert("CMYK").save(inp / "b_cmyk.jpg")
    Image.fromarray((_known() * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    return inp, tmp_path / "mask.png"


def test_on_error_fail_checks_the_mode_before_writing_anything(inpainter, tmp_path):
    inp, mask = _folder_with_a_cmyk_jpeg(tmp_path)
    with pytest.raises(ValueError, match=r"(?s)1 of 2 input\(s\) cannot be used, nothing was written.*"
                                         r"b_cmyk\.jpg: unsupported image mode 'CMYK'"):
        inpaint_paths(inpainter, inp, mask, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_on_error_skip_skips_an_unsupported_mode_and_counts_it(inpainter, tmp_path, caplog):
    inp, mask = _folder_with_a_cmyk_jpeg(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mminvert.inference.cli"):
        written = inpaint_paths(inpainter, inp, mask, tmp_path / "out", on_error="skip")
    assert [p.name for p in written] == ["a_good.png"]
    report = caplog.records[-1].getMessage()
    assert "skipped 1 of 2" in report and "b_cmyk.jpg: unsupported image mode 'CMYK'" in report


# ------------------------------------------------------------------------------------------ files

def test_an_animated_gif_says_only_its_first_frame_is_used(inpainter, tmp_path, caplog):
    frames = [Image.fromarray(_rgb(s)).convert("P") for s in (5, 6)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray((_known() * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    with caplog.at_level(logging.WARNING):
        (out,) = inpaint_paths(inpainter, tmp_path / "anim.gif", tmp_path / "mask.png", tmp_path / "out")
    assert f"{tmp_path / 'anim.gif'} has 2 frames" in caplog.text and "only the first frame is used" in caplog.text
    first = np.asarray(Image.open(tmp_path / "anim.gif").convert("RGB"))
    assert (np.asarray(Image.open(out).convert("RGB"))[_known()] == first[_known()]).all()


def test_exif_orientation_is_applied_to_image_mask_and_output(inpainter, tmp_path):
    stored = _rgb(7)  # stored 30 x 40; EXIF 6: viewers show it turned 90 degrees clockwise, 40 x 30
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "phone.png", exif=exif)
    upright = np.rot90(stored, -1)
    known = _known((W, H))  # the mask is drawn on the upright view
    Image.fromarray((known * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    (out,) = inpaint_paths(inpainter, tmp_path / "phone.png", tmp_path / "mask.png", tmp_path / "out")
    result = Image.open(out)
    assert result.getexif().get(0x0112, 1) == 1  # written upright, so it displays like the input
    assert _keeps_exactly_the_known_pixels(np.asarray(result), upright, known)


def test_output_equal_to_the_input_folder_is_named(inpainter, tmp_path):
    inp = tmp_path / "photos"
    inp.mkdir()
    Image.fromarray(_rgb(8)).save(inp / "a.png")
    Image.fromarray((_known() * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    for output in (inp, tmp_path):
        with pytest.raises(ValueError, match=rf"output={output} (is the input folder|holds the input folder).*"
                                             rf"output={inp}_inpainted"):
            inpaint_paths(inpainter, inp, tmp_path / "mask.png", output)
    assert sorted(os.listdir(inp)) == ["a.png"]


def test_paths_with_spaces_and_non_ascii_letters_work_unquoted(tmp_path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mminvert.inference.path_arguments import quote_path_arguments

    parser = OverridesParser.create()
    for path in ["my photos/a.png", "фото/été.png", "a,b.png", "it's [1].png", "plain/a.png"]:
        (arg,) = quote_path_arguments([f"input={path}"])
        assert parser.parse_overrides([arg])[0].value() == path
    assert quote_path_arguments(["device=cpu", "input='x y.png'"]) == ["device=cpu", "input='x y.png'"]
    folder = tmp_path / "mes photos été"
    folder.mkdir()
    Image.fromarray(_rgb(9)).save(folder / "a.png")
    Image.fromarray((_known() * 255).astype(np.uint8)).save(folder / "masque.png")
    bundle = save_bundle(_tiny_model(k=5), tmp_path / "model.pt")
    r = subprocess.run([sys.executable, str(REPO / "inpaint.py"), f"ckpt={bundle}", f"input={folder / 'a.png'}",
                        f"mask={folder / 'masque.png'}", f"output={folder / 'résultats'}",
                        f"hydra.run.dir={tmp_path / 'hydra'}"],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert (folder / "résultats" / "a.png").is_file()
