"""Checkpoint loading reads the archive's record sizes first: a small file that expands to far more (a zip
bomb) or a file over the configured limit is refused, naming the file, before anything is decompressed."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

from mminvert.io import CheckpointError, read_checkpoint


def _deflated_copy(src: bytes, dest: Path) -> Path:
    """The same torch archive with its records deflated (torch writes them stored)."""
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    return dest


@pytest.fixture
def no_torch_load(monkeypatch):
    """Fail the test if anything reaches torch.load: a refused file must be refused before loading."""
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called on a file that should have been refused first")
    monkeypatch.setattr(torch, "load", refuse)


def test_a_decompression_bomb_is_refused_before_loading(tmp_path, no_torch_load):
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(8 << 20)}, buf)  # 32 MiB of zeros
    bomb = _deflated_copy(buf.getvalue(), tmp_path / "bomb.pt")
    assert bomb.stat().st_size < 1 << 20  # deflates to well under 1 MiB
    with pytest.raises(CheckpointError, match=r"bomb\.pt: its records expand to 32\.0 MiB from a 0\.\d MiB file.*"
                                              r"decompression bomb; nothing was loaded"):
        read_checkpoint(bomb)


def test_a_checkpoint_over_the_configured_limit_is_refused(tmp_path, monkeypatch, no_torch_load):
    path = tmp_path / "big.pt"
    with open(path, "wb") as f:
        torch.save({"w": torch.zeros(1 << 18)}, f)  # 1 MiB, stored as torch writes it
    monkeypatch.setenv("MMINVERT_MAX_CHECKPOINT_BYTES", str(512 << 10))
    with pytest.raises(CheckpointError, match=r"big\.pt: its records expand to 1\.0 MiB, more than a checkpoint may "
                                              r"be \(the limit is 0\.5 MiB: raise it with MMINVERT_MAX_CHECKPOINT_BYTES"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"big\.pt: its records expand to 1\.0 MiB"):
        read_checkpoint(path, max_bytes=512 << 10)  # the argument wins over the default


def test_a_checkpoint_within_the_limits_loads(tmp_path):
    path = tmp_path / "ok.pt"
    with open(path, "wb") as f:
        torch.save({"w": torch.arange(4.0)}, f)
    assert torch.equal(read_checkpoint(path, max_bytes=1 << 20)["w"], torch.arange(4.0))
