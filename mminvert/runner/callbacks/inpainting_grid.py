"""Validation sample grid of the inpainting task: what went in, what came out, what was expected."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch import Tensor

from ...data.preview import seg_palette
from ...io.atomic import atomic_path
from ...utils.figures import readable
from .samples import log_uint8_image

__all__ = ["InpaintingSampleGrid", "inpainting_grid"]


def _rgb(x: Tensor) -> np.ndarray:
    return ((x.permute(1, 2, 0).float().numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def _gray(x: Tensor) -> np.ndarray:
    return np.repeat((x[0].float().clamp(0, 1).numpy() * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def inpainting_grid(batch: dict[str, Tensor], out: dict, max_rows: int = 8) -> np.ndarray:
    """Rows = samples; columns = masked input, output ŷ, composite, ground truth, and — for multi-modal
    models — predicted segmentation and edges at full resolution. (H·n, W·c, 3) uint8."""
    pal = seg_palette(256)
    rows = []
    for i in range(min(max_rows, batch["image"].shape[0])):
        img, mask = batch["image"][i], batch["mask"][i]
        cols = [_rgb(img * mask), _rgb(out["image"][i].clamp(-1, 1)), _rgb(out["composite"][i].clamp(-1, 1)),
                _rgb(img)]
        if out.get("seg") and out["seg"][-1] is not None:
            cols.append(pal[out["seg"][-1][i].argmax(0).numpy()])
        if out.get("edge") and out["edge"][-1] is not None:
            cols.append(_gray(torch.sigmoid(out["edge"][-1][i])))
        rows.append(np.concatenate(cols, axis=1))
    return np.concatenate(rows, axis=0)


class InpaintingSampleGrid(pl.Callback):
    """After each validation: `<dirpath>/val_step_<N>.png` from the first validation batch, also logged as
    `val/samples` (uint8) to wandb / TensorBoard."""

    def __init__(self, dirpath: str | os.PathLike, max_rows: int = 8) -> None:
        super().__init__()
        self.dirpath, self.max_rows = Path(dirpath), int(max_rows)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        examples = getattr(pl_module, "val_examples", None)
        if trainer.sanity_checking or not trainer.is_global_zero or not examples:
            return
        grid = inpainting_grid(examples["batch"], examples["out"], self.max_rows)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / f"val_step_{trainer.global_step:07d}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(readable(grid, examples["batch"]["image"].shape[-1])).save(tmp, format="PNG")  # >= 256 px
        log_uint8_image(trainer, "val/samples", grid, trainer.global_step)
