"""A failed atomic write (a full disk) leaves no temporary file behind — a partial file would keep the disk
full — and its error names the file that could not be written. The old file, if any, stays as it was."""
from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from mminvert.inference import Inpainter
from mminvert.inference.bundle import save_bundle
from mminvert.inference.cli import inpaint_paths
from mminvert.io.atomic import atomic_path, atomic_write_bytes
from mminvert.runner.callbacks import StepCheckpoint
from tests.test_inversion import _tiny_model


def _disk_full(partial: bytes = b"\0" * 4096):
    """A writer that writes part of its file and then finds the disk full (ENOSPC, no file name in the error,
    as PIL and torch raise it)."""
    def write(obj, dest, *args, **kwargs):
        if hasattr(dest, "write"):
            dest.write(partial)
        else:
            Path(dest).write_bytes(partial)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return write


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name)


def test_atomic_path_removes_its_temporary_file_on_any_failure(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match=rf"No space left on device: '{target}'") as info:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []
    assert atomic_write_bytes(target, b"new").read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["a.bin"]


def test_inpaint_on_a_full_disk_names_the_file_and_leaves_no_partial_file(tmp_path, monkeypatch):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    mask = np.full((30, 40), 255, np.uint8)
    mask[5:20, 8:30] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out"
    monkeypatch.setattr(Image.Image, "save", lambda self, fp, *a, **k: _disk_full()(self, fp))
    with pytest.raises(OSError, match=r"No space left on device: '.*out/a\.png'"):
        inpaint_paths(Inpainter(_tiny_model(k=5)), tmp_path / "a.png", tmp_path / "mask.png", out)
    assert _leftovers(out) == [] and not (out / "a.png").exists()


def test_a_checkpoint_save_on_a_full_disk_leaves_no_partial_file(tmp_path):
    (tmp_path / "last.ckpt").write_bytes(b"previous")
    trainer = SimpleNamespace(save_checkpoint=lambda path, weights_only: _disk_full()(None, path),
                              is_global_zero=True, strategy=SimpleNamespace(barrier=lambda name: None))
    with pytest.raises(OSError, match=r"No space left on device: '.*last\.ckpt'"):
        StepCheckpoint(tmp_path, every_n_steps=5)._save(trainer, 5, periodic=True)
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt"] and (tmp_path / "last.ckpt").read_bytes() == b"previous"


def test_a_bundle_written_to_a_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", _disk_full())
    with pytest.raises(OSError, match=r"No space left on device: '.*model\.pt'"):
        save_bundle(_tiny_model(k=5), tmp_path / "model.pt")
    assert os.listdir(tmp_path) == []
