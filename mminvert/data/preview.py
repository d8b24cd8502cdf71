"""Write a PNG grid of what the model sees: image / mask / masked input / segmentation / edges.

    python -m mminvert.data.preview data=scenes [mask=thick] [out=preview.png] [n=8] [split=val]

Any Hydra override of conf/config.yaml applies (data=folder data.source.root=..., ...).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from ..utils.config_dir import config_dir

__all__ = ["main", "preview_grid", "seg_palette"]

CONF = config_dir()


def seg_palette(num_classes: int) -> np.ndarray:
    """(256, 3) uint8 colours: distinct hues per class, black for 255 (ignore)."""
    rng = np.random.default_rng(12345)
    pal = rng.integers(40, 256, size=(256, 3), dtype=np.uint8)
    pal[255] = 0
    return pal


def preview_grid(batch: dict[str, torch.Tensor], num_classes: int) -> np.ndarray:
    """Rows = samples; columns = image, mask, masked input, segmentation, edges. (H·n, W·5, 3) uint8."""
    def rgb(x: torch.Tensor) -> np.ndarray:
        return ((x.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)

    def gray(x: torch.Tensor) -> np.ndarray:
        return np.repeat((x[0].numpy() * 255).astype(np.uint8)[..., None], 3, axis=2)

    pal = seg_palette(num_classes)
    rows = []
    for i in range(batch["image"].shape[0]):
        img, mask = batch["image"][i], batch["mask"][i]
        masked = rgb(img * mask + (1 - mask) * 0.0)
        seg = pal[batch["seg"][i].numpy().astype(np.int64)]
        rows.append(np.concatenate([rgb(img), gray(mask), masked, seg, gray(batch["edge"][i])], axis=1))
    return np.concatenate(rows, axis=0)


def main(argv: list[str] | None = None) -> Path:
    args = list(sys.argv[1:] if argv is None else argv)
    opts = {k: v for k, v in (a.split("=", 1) for a in args if a.split("=", 1)[0] in ("out", "n", "split"))}
    overrides = [a for a in args if a.split("=", 1)[0] not in ("out", "n", "split")]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    dm = instantiate(cfg.data)
    split = opts.get("split", "val")
    dm.prepare_data()
    ds = dm.build(split)
    n = min(int(opts.get("n", 8)), len(ds))
    batch = torch.utils.data.default_collate([ds[i] for i in range(n)])
    out = Path(opts.get("out", "preview.png"))
    Image.fromarray(preview_grid(batch, dm.num_classes)).save(out)
    print(f"wrote {out} ({n} {split} samples: image | mask | masked input | segmentation | edges)")
    return out


if __name__ == "__main__":
    main()
