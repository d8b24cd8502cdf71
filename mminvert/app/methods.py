"""Fill methods the app compares with the model.

- `telea`: OpenCV's fast-marching inpainting (Telea 2004) at the image's full resolution;
- `optim_inversion`: W+ optimisation on the model's own frozen generator (`mminvert.baselines.OptimInversion`),
  run in the model's window, with a progress callback and cooperative cancellation.

Diverse fills come from the served model itself when it samples (`Inpainter.can_sample`, see callbacks.py).
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch
import torch.optim.optimizer as torch_optimizer
from PIL import Image

from ..baselines import OptimInversion
from ..baselines.telea import telea_uint8
from ..inference import Inpainter

__all__ = ["Cancelled", "CancelToken", "telea", "optim_inversion"]


class Cancelled(RuntimeError):
    """Raised inside a running method when its job was cancelled."""


class CancelToken:
    """A flag a long job polls; `cancel()` from another thread (the page's Cancel button) stops it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


def telea(image: Image.Image, known: np.ndarray, radius: int = 5) -> Image.Image:
    """cv2.inpaint (INPAINT_TELEA) of the hole (~known); the image's mode and size are kept (modes other
    than L, RGB, RGBA are filled in RGB, like the Inpainter); known pixels are copied from the input."""
    mode = image.mode if image.mode in ("L", "RGB", "RGBA") else "RGB"
    arr = np.array(image.convert(mode))
    hole = (~known).astype(np.uint8)
    color = arr[..., :3] if arr.ndim == 3 else arr
    filled = telea_uint8(color, hole.astype(bool), radius)
    out = arr.copy()
    target = out[..., :3] if out.ndim == 3 else out
    target[~known] = filled[~known]
    return Image.fromarray(out, mode)


def optim_inversion(inpainter: Inpainter, image: Image.Image, known: np.ndarray, steps: int = 200,
                    progress: Callable[[int, int], None] | None = None,
                    token: CancelToken | None = None) -> Image.Image:
    """Optimisation-based inversion into the model's generator, in the Inpainter's window.

    `progress(step, steps)` is called after every Adam step; `token.cancel()` makes the next step raise
    `Cancelled`. The steps are observed with torch's global optimiser step hook, filtered to this thread,
    so OptimInversion itself needs no callback argument.
    """
    G = inpainter.model.generator
    method = OptimInversion(G, steps=int(steps))
    owner, done = threading.get_ident(), [0]

    def on_step(optimizer, args, kwargs) -> None:
        if threading.get_ident() != owner:
            return
        done[0] += 1
        if progress is not None:
            progress(done[0], steps)
        if token is not None:
            token.check()

    def fill(img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        device = G.w_avg.device
        return method(img.to(device), mask.to(device))["image"].clamp(-1, 1).cpu()

    handle = torch_optimizer.register_optimizer_step_post_hook(on_step)
    try:
        if token is not None:
            token.check()
        return inpainter.fill_with(fill, image, known.astype(np.uint8) * 255)
    finally:
        handle.remove()

