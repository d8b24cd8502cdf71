"""WGAN-GP networks on disk: `{"format": "mminvert.wgan_gp", "generator": {config, state_dict},
"critic": {config, state_dict}, "step"}`; `load_wgan_gp(path or bundled name)` -> (G frozen, critic frozen)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...io.atomic import atomic_torch_save
from ...io.formats import WGAN_GP_FORMAT
from ...io.size_limits import check_checkpoint_size
from ...utils.assets import bundled_names
from .networks import DCGANCritic, DCGANGenerator

__all__ = ["WGAN_GP_FORMAT", "BUNDLED_WGAN_GP", "save_wgan_gp", "load_wgan_gp", "is_wgan_gp_file"]

# bundled name -> file; "scenes64" is the prior of the 64 px scenes (docs/semantic.md §4)
BUNDLED_WGAN_GP = bundled_names("wgan_gp")


def save_wgan_gp(path: str | Path, generator: DCGANGenerator, critic: DCGANCritic, **info: Any) -> Path:
    """Atomic write (temporary file + rename) of both networks' configs and CPU weights."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    def part(net):
        return {"config": net.config, "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}

    obj = {"format": WGAN_GP_FORMAT, **info, "generator": part(generator), "critic": part(critic)}
    return atomic_torch_save(obj, path)


def _read(path: str | Path) -> tuple[Path, Any]:
    p = BUNDLED_WGAN_GP.get(str(path), Path(str(path)).expanduser())
    if not p.is_file():
        raise FileNotFoundError(f"WGAN-GP file {p} does not exist (bundled: {sorted(BUNDLED_WGAN_GP)})")
    check_checkpoint_size(p)
    return p, torch.load(p, map_location="cpu", weights_only=True)


def is_wgan_gp_file(path: str | Path) -> bool:
    try:
        return _read(path)[1].get("format") == WGAN_GP_FORMAT
    except Exception:
        return False


def load_wgan_gp(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[DCGANGenerator, DCGANCritic]:
    p, obj = _read(path)
    if not isinstance(obj, dict) or obj.get("format") != WGAN_GP_FORMAT:
        raise ValueError(f"{p} is not an mminvert WGAN-GP file (format {WGAN_GP_FORMAT!r})")
    G = DCGANGenerator(**obj["generator"]["config"])
    G.load_state_dict(obj["generator"]["state_dict"])
    D = DCGANCritic(**obj["critic"]["config"])
    D.load_state_dict(obj["critic"]["state_dict"])
    return G.freeze().to(map_location), D.requires_grad_(False).eval().to(map_location)
