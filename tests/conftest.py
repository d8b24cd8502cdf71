"""Shared test fixtures. Tests are CPU-only, offline and small (32-64 px, narrow widths)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

# Generated files (evaluation masks of new resolutions, feature caches) go to paths.cache_dir, i.e. $MMINVERT_CACHE:
# a folder of this test session, never the user's ~/.cache/mminvert.
if "MMINVERT_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["MMINVERT_CACHE"] = tempfile.mkdtemp(prefix="mminvert_test_cache_")
    atexit.register(shutil.rmtree, os.environ["MMINVERT_CACHE"], True)


@dataclass(frozen=True)
class StyleGAN2Fixtures:
    """Checkpoints written by the original StyleGAN2 implementations, with their reference outputs, and the
    architecture a loader must infer from them."""

    name: str
    rosinality: Path           # {g_ema, d, latent_avg}
    rosinality_ref: Path
    nvlabs: Path               # {G_ema state dict, kwargs}
    nvlabs_ref: Path
    z_dim: int
    mapping_layers: int
    rosinality_channels: dict[int, int]
    nvlabs_channels: dict[int, int]


# Compact fixtures (1.9 MB, 64-d latents, narrow widths) ship with the tests: a plain clone needs nothing else.
COMPACT = REPO / "tests" / "fixtures" / "stylegan2"
COMPACT_FIXTURES = StyleGAN2Fixtures(
    "compact", COMPACT / "rosinality_stylegan2_64px_compact.pt", COMPACT / "rosinality_stylegan2_64px_compact_reference.pt",
    COMPACT / "nvlabs_stylegan2ada_64px_compact_state_dict.pt", COMPACT / "nvlabs_stylegan2ada_64px_compact_reference.pt",
    z_dim=64, mapping_layers=2, rosinality_channels={4: 32, 8: 32, 16: 32, 32: 16, 64: 16},
    nvlabs_channels={4: 32, 8: 32, 16: 32, 32: 16, 64: 8})


def full_fixtures() -> StyleGAN2Fixtures | None:
    """The larger 512-d fixtures, only where `MMINVERT_FIXTURES` points to them (an optional extra check)."""
    root = os.environ.get("MMINVERT_FIXTURES")
    if not root:
        return None
    r = Path(root)
    return StyleGAN2Fixtures(
        "full", r / "rosinality_stylegan2_64px.pt", r / "rosinality_stylegan2_64px_reference.pt",
        r / "nvlabs_stylegan2ada_64px_state_dict.pt", r / "nvlabs_stylegan2ada_64px_reference.pt",
        z_dim=512, mapping_layers=8, rosinality_channels={4: 64, 8: 64, 16: 64, 32: 64, 64: 64},
        nvlabs_channels={4: 64, 8: 64, 16: 64, 32: 64, 64: 32})

# Parallel test workers (pytest-xdist) share the cores: one intra-op thread each avoids OpenMP
# oversubscription, which stalls small convolutions by orders of magnitude.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def sg2() -> StyleGAN2Fixtures:
    """The compact StyleGAN2 fixtures inside the repository."""
    return COMPACT_FIXTURES


@pytest.fixture(scope="session", params=["compact", "full"])
def sg2_sets(request) -> StyleGAN2Fixtures:
    """Each fixture set: the compact one always; the 512-d one where MMINVERT_FIXTURES names its folder."""
    if request.param == "compact":
        return COMPACT_FIXTURES
    full = full_fixtures()
    if full is None:
        pytest.skip("set MMINVERT_FIXTURES to the folder of the 512-d StyleGAN2 fixtures to check them too")
    if not full.rosinality.is_file():
        pytest.fail(f"MMINVERT_FIXTURES={os.environ['MMINVERT_FIXTURES']} has no {full.rosinality.name}")
    return full


@pytest.fixture
def tiny_generator():
    """A random 32 px generator with narrow widths (seeded)."""
    from mminvert.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(resolution=32, z_dim=64, w_dim=64, mapping_layers=2, channels={4: 32, 8: 32, 16: 16, 32: 16})
    with torch.no_grad():  # non-trivial noise strengths so noise paths are exercised
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    return g.eval()
