"""inpaint_paths never loses a file: distinct inputs get distinct outputs, overwrite=true replaces only what this
tool wrote, a file given as output folder and unreadable inputs are clear errors (on_error=fail writes nothing,
on_error=skip lists what it left out)."""
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
from mminvert.inference.cli import OutputManifest, inpaint_paths
from tests.test_inversion import _tiny_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inpainter():
    return Inpainter(_tiny_model(k=5))


def _img(path: Path, seed: int = 0, size=(30, 40)) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path.read_bytes()


def _mask(path: Path, size=(30, 40)) -> Path:
    m = np.full(size, 255, np.uint8)
    m[5:20, 8:30] = 0
    Image.fromarray(m).save(path)
    return path


def test_overwrite_never_replaces_an_unrelated_original(inpainter, tmp_path):
    photos = tmp_path / "photos"
    _img(photos / "photo.jpg", 1)
    original = _img(photos / "photo.png", 2)  # the user's own file, same stem
    mask = _mask(tmp_path / "mask.png")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="photo.png exists"):
            inpaint_paths(inpainter, photos / "photo.jpg", mask, photos, overwrite=overwrite)
    assert (photos / "photo.png").read_bytes() == original


def test_inputs_sharing_a_stem_get_distinct_outputs(inpainter, tmp_path):
    inp = tmp_path / "in"
    _img(inp / "a.png", 1)
    _img(inp / "a.jpg", 2)
    _img(inp / "b.png", 3)
    written = inpaint_paths(inpainter, inp, _mask(tmp_path / "mask.png"), tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["a_jpg.png", "a_png.png", "b.png"]
    a_png, a_jpg = (np.asarray(Image.open(tmp_path / "out" / n)) for n in ("a_png.png", "a_jpg.png"))
    assert not np.array_equal(a_png, a_jpg)  # two results, none lost


def test_overwrite_replaces_only_unchanged_outputs_of_this_tool(inpainter, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    _img(inp / "a.png", 1)
    _img(inp / "b.png", 2)
    mask = _mask(tmp_path / "mask.png")
    inpaint_paths(inpainter, inp, mask, out)
    manifest = OutputManifest(out.resolve())
    assert sorted(manifest.files) == ["a.png", "b.png"]
    with pytest.raises(FileExistsError, match="overwrite=true"):
        inpaint_paths(inpainter, inp, mask, out)
    assert len(inpaint_paths(inpainter, inp, mask, out, overwrite=True)) == 2  # our own outputs: replaced
    edited = _img(out / "b.png", 9)  # the user edits a result ...
    with pytest.raises(FileExistsError, match="not written by inpaint.py"):
        inpaint_paths(inpainter, inp, mask, out, overwrite=True)
    assert (out / "b.png").read_bytes() == edited  # ... and it is kept (checked before anything is written)
    foreign = _img(tmp_path / "out2" / "a.png", 7)
    with pytest.raises(FileExistsError, match="not written by inpaint.py"):
        inpaint_paths(inpainter, inp, mask, tmp_path / "out2", overwrite=True)
    assert (tmp_path / "out2" / "a.png").read_bytes() == foreign and not (tmp_path / "out2" / "b.png").exists()


def test_output_that_is_a_file_is_a_clear_error(inpainter, tmp_path):
    _img(tmp_path / "a.png")
    existing = tmp_path / "result.png"
    before = _img(existing, 3)
    with pytest.raises(NotADirectoryError, match="output=.*result.png is a file: output must be a folder"):
        inpaint_paths(inpainter, tmp_path / "a.png", _mask(tmp_path / "m.png"), existing)
    assert existing.read_bytes() == before


def _folder_with_a_corrupt_image(tmp_path: Path) -> tuple[Path, Path]:
    inp = tmp_path / "in"
    for name, seed in (("a.png", 1), ("c.png", 3)):
        _img(inp / name, seed)
    (inp / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return inp, _mask(tmp_path / "mask.png")


def test_on_error_fail_writes_nothing(inpainter, tmp_path):
    inp, mask = _folder_with_a_corrupt_image(tmp_path)
    message = r"(?s)1 of 3 input\(s\) cannot be used, nothing was written.*b\.png: unreadable"
    with pytest.raises(ValueError, match=message):
        inpaint_paths(inpainter, inp, mask, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_on_error_skip_reports_the_skipped_files(inpainter, tmp_path, caplog):
    inp, mask = _folder_with_a_corrupt_image(tmp_path)
    _img(inp / "d.png", 4, size=(31, 40))  # its mask (the shared one) has another size
    with caplog.at_level(logging.WARNING, logger="mminvert.inference.cli"):
        written = inpaint_paths(inpainter, inp, mask, tmp_path / "out", on_error="skip")
    assert sorted(p.name for p in written) == ["a.png", "c.png"]
    report = caplog.records[-1].getMessage()
    assert "skipped 2 of 4" in report and "b.png: unreadable" in report and "differs from image" in report
    with pytest.raises(ValueError, match="on_error must be one of"):
        inpaint_paths(inpainter, inp, mask, tmp_path / "out3", on_error="ignore")


def test_script_reports_a_file_given_as_output(tmp_path):
    """`python inpaint.py ... output=<existing file>`: a clear message, a failing exit code, the file untouched."""
    from mminvert.inference import save_bundle

    bundle = save_bundle(_tiny_model(k=5), tmp_path / "model.pt")
    _img(tmp_path / "a.png")
    before = _img(tmp_path / "taken.png", 5)
    r = subprocess.run([sys.executable, str(REPO / "inpaint.py"), f"ckpt={bundle}", f"input={tmp_path / 'a.png'}",
                        f"mask={_mask(tmp_path / 'm.png')}", f"output={tmp_path / 'taken.png'}",
                        f"hydra.run.dir={tmp_path / 'hydra'}"],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode != 0 and "is a file: output must be a folder" in r.stderr
    assert (tmp_path / "taken.png").read_bytes() == before


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(inpainter, tmp_path):
    inp = tmp_path / "photos"
    _img(inp / "a.png", 1)
    mask = _mask(tmp_path / "mask.png")
    inpaint_paths(inpainter, inp, mask, inp / "results")
    written = inpaint_paths(inpainter, inp, mask, inp / "results", overwrite=True)  # a second run
    assert [p.relative_to(inp).as_posix() for p in written] == ["results/a.png"]
