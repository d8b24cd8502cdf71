"""Shared test fixtures. Tests are CPU-only, offline and small (32-64 px, narrow widths)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# The StyleGAN2 fixtures live in the shared folder beside the repository (CI clones it there too).
FIXTURES = Path(os.environ.get("MMINVERT_FIXTURES", REPO.parent / "shared" / "fixtures"))

# Parallel test workers (pytest-xdist) share the cores: one intra-op thread each avoids OpenMP
# oversubscription, which stalls small convolutions by orders of magnitude.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"StyleGAN2 fixtures not found at {FIXTURES} (set MMINVERT_FIXTURES)")
    return FIXTURES


@pytest.fixture
def tiny_generator():
    """A random 32 px generator with narrow widths (seeded)."""
    from mminvert.nn import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(resolution=32, z_dim=64, w_dim=64, mapping_layers=2, channels={4: 32, 8: 32, 16: 16, 32: 16})
    with torch.no_grad():  # non-trivial noise strengths so noise paths are exercised
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    return g.eval()
