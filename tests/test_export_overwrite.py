"""`mminvert export ... overwrite=true` replaces only an earlier mminvert bundle; any other file (an image, a
text file, a folder, a torch file of another kind) is refused with a message saying what it is, untouched."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mminvert.cli import main as mminvert_cli
from mminvert.inference import Inpainter
from mminvert.inference.bundle import save_bundle
from tests.test_inversion import _tiny_model


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return save_bundle(_tiny_model(k=5), tmp_path_factory.mktemp("src") / "model.pt")


def test_overwrite_refuses_a_file_that_is_not_a_bundle(bundle, tmp_path, capsys):
    png = tmp_path / "holiday.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(png)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    weights = tmp_path / "weights.pt"
    torch.save({"format": "somebody.else", "w": torch.ones(2)}, weights)
    for target, what in [(png, "a PNG image"), (notes, "a file that is not an mminvert bundle"),
                         (weights, "a file of another format ('somebody.else')")]:
        before = target.read_bytes()
        assert mminvert_cli(["export", f"ckpt={bundle}", f"out={target}", "overwrite=true"]) == 1
        err = capsys.readouterr().err
        assert f"refusing to overwrite {target}: it is {what}" in err and "not an mminvert inference bundle" in err
        assert target.read_bytes() == before
    (tmp_path / "folder").mkdir()
    with pytest.raises(FileExistsError, match="it is a folder"):
        Inpainter(_tiny_model(k=5)).export(tmp_path / "folder", overwrite=True)


def test_overwrite_replaces_an_earlier_bundle(bundle, tmp_path):
    out = tmp_path / "old.pt"
    torch.manual_seed(3)
    other = _tiny_model(k=5)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    save_bundle(other, out)
    old = out.read_bytes()
    assert mminvert_cli(["export", f"ckpt={bundle}", f"out={out}", "overwrite=true"]) == 0
    assert out.read_bytes() != old
    assert all(torch.equal(a, b) for a, b in zip(torch.load(out, weights_only=True)["state_dict"].values(),
                                                 torch.load(bundle, weights_only=True)["state_dict"].values()))
