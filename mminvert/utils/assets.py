"""The files that ship inside the package (`mminvert/assets/`), in one registry: what each is and the name it is
loaded by. Loaders take these names wherever they take a path (`load_generator("scenes64")`, `ckpt=scenes64` ...)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["ASSETS_DIR", "BUNDLED_ASSETS", "bundled_asset", "bundled_names"]

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"

BUNDLED_ASSETS: dict[str, dict[str, str]] = {  # kind -> {name: file in ASSETS_DIR}
    "generator": {"scenes64": "scenes64.pt"},  # StyleGAN2 trained on the built-in scenes at 64 px
    "discriminator": {"scenes64": "scenes64_discriminator.pt"},  # trained afterwards against that frozen generator
    "inpainter": {"scenes64": "scenes64_inpainter.pt"},  # the reference MMInvertFill bundle (docs/reproduction.md §0)
    "wgan_gp": {"scenes64": "scenes64_wgan_gp.pt", "scenes64_wgan_gp": "scenes64_wgan_gp.pt"},  # contextual inversion
    "classifier": {"scenes64": "scenes64_attributes.pt"},  # attribute classifier of the semantic baselines
    "directions": {"scenes64": "scenes64_directions.pt"},  # latent edit directions of the scenes64 generator
}


def bundled_asset(kind: str, name: str) -> Path:
    """The path of the bundled `kind` called `name` (KeyError naming the known ones otherwise)."""
    names = BUNDLED_ASSETS[kind]
    if name not in names:
        raise KeyError(f"no bundled {kind} called {name!r} (bundled: {sorted(names)})")
    return ASSETS_DIR / names[name]


def bundled_names(kind: str) -> dict[str, Path]:
    """{name: path} of every bundled file of `kind`."""
    return {name: ASSETS_DIR / f for name, f in BUNDLED_ASSETS[kind].items()}
