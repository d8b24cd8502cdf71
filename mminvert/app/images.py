"""Reading, checking, previewing and writing the app's images; colour maps of the result panels.

Everything the user gives is checked here and rejected with an `InputError` whose message the page shows.
"""
from __future__ import annotations

import html
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..data.preview import seg_palette
from ..io.atomic import atomic_path, remove_on_failure

__all__ = ["InputError", "MAX_FILE_BYTES", "MAX_PIXELS", "PREVIEW_SIDE", "load_image", "preview", "display_rgb",
           "save_png", "to_uint8", "colorize_seg", "gray_to_rgb", "legend_html", "read_seg_guidance",
           "read_edge_guidance"]

MAX_FILE_BYTES = 64 * 2**20     # larger uploads are refused before decoding
MAX_PIXELS = 50_000_000         # about 8k x 6k; larger images are refused (decompression bombs included)
PREVIEW_SIDE = 1024             # the editor shows images scaled down to this longest side


class InputError(ValueError):
    """A problem with what the user gave; its message is shown in the page."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode an image file; modes are kept (L, RGB, RGBA, P, I;16, ...)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such file: {p.name}")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{p.name} is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(p)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise InputError(f"{p.name} is {w}x{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                                 f"{MAX_PIXELS / 1e6:.0f}")
            img.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"{p.name} is not an image that can be read ({type(e).__name__})") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt files
        raise InputError(f"{p.name} could not be decoded: {e}") from None
    if w == 0 or h == 0:
        raise InputError(f"{p.name} has no pixels")
    return img


def display_rgb(img: Image.Image) -> Image.Image:
    """An 8-bit RGB or RGBA view of any mode (for display only; the original is what gets inpainted)."""
    if img.mode in ("RGB", "RGBA"):
        return img
    if img.mode in ("LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return img.convert("RGBA")
    if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit grey: scale to 8 bits for the eye
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") else max(float(a.max()), 1.0)
        return Image.fromarray(np.clip(a / hi * 255 + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    return img.convert("RGB")


def preview(img: Image.Image, max_side: int = PREVIEW_SIDE) -> np.ndarray:
    """(h, w, 3|4) uint8 display copy, scaled down (area filter) to `max_side` at most."""
    view = display_rgb(img)
    w, h = view.size
    scale = min(1.0, max_side / max(w, h))
    if scale < 1.0:
        view = view.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    return np.asarray(view).copy()


def save_png(img: Image.Image, directory: str | os.PathLike | None = None, stem: str = "inpainted") -> str:
    """Write `img` losslessly as PNG (its own mode and size) to a new file `<stem>_<random>.png`, readable by
    its owner only; returns the path. The PNG is written beside it and renamed into place, so a failed write
    (a full disk, an encoder error) leaves no file at all, not a truncated one."""
    d = Path(directory) if directory else Path(tempfile.gettempdir())
    d.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{stem}_", suffix=".png", dir=d)  # reserves a name no other call gets
    os.close(fd)
    with remove_on_failure(name), atomic_path(name, mode=0o600) as tmp:
        img.save(tmp, format="PNG")
    return name


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def colorize_seg(labels: torch.Tensor | np.ndarray, num_classes: int) -> np.ndarray:
    """(H, W) integer labels -> (H, W, 3) uint8 in the training sample grids' palette (255 = black)."""
    lab = np.asarray(labels).astype(np.int64)
    lab = np.where((lab >= 0) & (lab < num_classes), lab, 255)
    return seg_palette(num_classes)[lab]


def gray_to_rgb(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 grey."""
    a = np.clip(np.asarray(x, dtype=np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(a[..., None], 3, axis=2)


def legend_html(class_names: Sequence[str]) -> str:
    """Colour swatches with class names, in the segmentation panels' palette."""
    pal = seg_palette(len(class_names))
    items = "".join(
        f'<span style="display:inline-block;margin:2px 10px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:14px;height:14px;vertical-align:middle;border:1px solid #888;'
        f'background:rgb({r},{g},{b})"></span> {i}: {html.escape(name)}</span>'
        for i, (name, (r, g, b)) in enumerate(zip(class_names, pal.tolist())))
    return f'<div class="mminvert-legend">{items}</div>'


def _fit(a: np.ndarray, size: tuple[int, int], what: str, notes: list[str]) -> np.ndarray:
    H, W = size
    if a.shape[:2] != (H, W):
        notes.append(f"{what} was {a.shape[1]}x{a.shape[0]}, resized to the image's {W}x{H} (nearest)")
        a = cv2.resize(a, (W, H), interpolation=cv2.INTER_NEAREST)
    return a


def read_seg_guidance(path: str | os.PathLike, size: tuple[int, int], num_classes: int,
                      notes: list[str]) -> np.ndarray:
    """(H, W) int64 labels from a label map: a grey / palette image of class indices (values >= num_classes,
    e.g. 255, = unknown), or an RGB image in the legend's colours (other colours = unknown)."""
    img = load_image(path)
    if img.mode in ("L", "P", "I", "I;16"):
        lab = np.asarray(img).astype(np.int64)
    else:
        rgb = np.asarray(img.convert("RGB")).astype(np.int64)
        code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        pal = seg_palette(num_classes)[:num_classes].astype(np.int64)
        lab = np.full(code.shape, 255, np.int64)
        for k, (r, g, b) in enumerate(pal):
            lab[code == ((r << 16) | (g << 8) | b)] = k
    lab = np.where(lab < num_classes, lab, 255)
    if not (lab < num_classes).any():
        raise InputError(f"the segmentation guidance holds no label in 0..{num_classes - 1} (nor a legend colour)")
    return _fit(lab.astype(np.uint8), size, "segmentation guidance", notes).astype(np.int64)


def read_edge_guidance(path: str | os.PathLike, size: tuple[int, int], notes: list[str]) -> np.ndarray:
    """(H, W) float32 {0, 1} from an edge image: bright (> 127 after conversion to grey) = edge."""
    a = np.asarray(display_rgb(load_image(path)).convert("L")) > 127
    return _fit(a.astype(np.uint8), size, "edge guidance", notes).astype(np.float32)
