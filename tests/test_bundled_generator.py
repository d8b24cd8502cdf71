"""The bundled scenes generator loads offline by name and renders 64 px scenes (sky above ground)."""
import torch

import mminvert


def test_bundled_scenes64_loads_and_renders_scenes():
    G = mminvert.load_generator("scenes64")
    assert (G.resolution, G.z_dim, G.w_dim) == (64, 128, 128) and not G.training
    with torch.no_grad():
        img = G(torch.randn(64, G.z_dim, generator=torch.Generator().manual_seed(0)))
    assert img.shape == (64, 3, 64, 64) and torch.isfinite(img).all()
    assert img.std() > 0.1  # not a constant image
    # Scenes have sky on top and ground below: the top rows are bluer (B - G) than the bottom rows.
    blue_minus_green = img[:, 2] - img[:, 1]
    assert blue_minus_green[:, :16].mean() > blue_minus_green[:, -16:].mean() + 0.05
