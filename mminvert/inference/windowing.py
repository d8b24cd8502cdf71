"""The window logic shared by every inpainting backend, in numpy only (no torch): read an image and its mask,
cut a square window around the hole, resize it to the model's resolution R, and paste the model's output back
into the hole pixels. `Inpainter` (PyTorch) and `OnnxInpainter` (onnxruntime) are both a `WindowedInpainter`
and differ only in `_predict`, so they window, resize and paste identically.

Window: the hole's bounding box grown by `context`, at least R, at most the image's longer side, centred on the
hole and shifted inside the image; where it still leaves the image (a side shorter than the window) it is padded
by edge replication. Resizing follows `torch.nn.functional.interpolate`: area when shrinking (an adaptive
average pool), bicubic (a = -0.75, align_corners=False, no antialiasing) when growing, nearest for label maps;
written here as (out, in) matrices applied to both axes. The mask is resized like an image and thresholded at
0.999, so a window pixel is known only if every input pixel under it is.

Tensor images ((3, H, W) in [-1, 1]) are accepted by duck typing: only their own methods are called, so this
module never imports torch.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .image_formats import NativeImage, known_pixels

__all__ = ["Item", "Window", "WindowedInpainter", "read_item", "hole_window", "window_inputs", "paste", "resize",
           "is_tensor"]

ImageLike = Any  # PIL image, numpy array, or a torch tensor (3, H, W) in [-1, 1]
SEG_IGNORE = 255  # label of "no segmentation given" (the encoder's ignore_index)


def is_tensor(x: Any) -> bool:
    """A torch tensor, recognised without importing torch."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


@dataclass
class Item:
    """One image of a batch: what the model reads (`rgb`, `known`, guidance) and how to write the result back."""
    rgb: np.ndarray              # (3, H, W) float32 in [-1, 1]
    known: np.ndarray            # (H, W) bool
    seg: np.ndarray | None       # (H, W) int64 labels
    edge: np.ndarray | None      # (H, W) float32 {0, 1}
    native: NativeImage | None   # PIL / numpy inputs, at their own depth
    tensor: Any = None           # tensor inputs (detached, on the CPU)


@dataclass(frozen=True)
class Window:
    """A square window of side `side` at (top, left) in an image of `height` x `width` pixels."""
    top: int
    left: int
    side: int
    height: int
    width: int


def read_item(idx: int, image: ImageLike, mask: ImageLike, seg: Any = None, edge: Any = None,
              invert: bool = False) -> Item:
    """Check and convert one input; a mask or guidance map whose size differs from the image is a ValueError."""
    known = known_pixels(mask, invert, name=f"mask {idx}")
    if is_tensor(image):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"tensor images must be (3, H, W) in [-1, 1], got {tuple(image.shape)}")
        tensor = image.detach().cpu()
        native, size = None, (int(tensor.shape[1]), int(tensor.shape[2]))
    elif isinstance(image, (Image.Image, np.ndarray)):
        native, tensor = NativeImage.of(image), None
        size = native.size
    else:
        raise TypeError(f"unsupported image type {type(image).__name__} (a PIL image, a numpy array or a tensor)")
    if tuple(known.shape) != size:
        raise ValueError(f"item {idx}: mask size {tuple(known.shape)} differs from image size {size} (H, W)")
    if native is not None:
        native.fit_range(known)  # I and F images: their range is the known pixels' min..max
    rgb = tensor.float().numpy() if tensor is not None else native.model_input()
    seg_a = np.asarray(seg).astype(np.int64) if seg is not None else None
    edge_a = (np.asarray(edge, dtype=np.float32) > 0.5).astype(np.float32) if edge is not None else None
    for name, a in (("seg", seg_a), ("edge", edge_a)):
        if a is not None and tuple(a.shape) != size:
            raise ValueError(f"item {idx}: {name} size {tuple(a.shape)} differs from image size {size}")
    return Item(rgb, known, seg_a, edge_a, native, tensor)


def hole_window(known: np.ndarray, R: int, context: float) -> Window:
    """The window around the hole of `known` ((H, W) bool with at least one False)."""
    H, W = known.shape
    ys, xs = np.nonzero(~known)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    side = max(R, math.ceil(context * max(y1 - y0, x1 - x0)))
    side = min(side, max(H, W))
    top = min(max((y0 + y1) // 2 - side // 2, 0), max(H - side, 0))
    left = min(max((x0 + x1) // 2 - side // 2, 0), max(W - side, 0))
    return Window(top, left, side, H, W)


def _crop(a: np.ndarray, w: Window) -> np.ndarray:
    """(C, H, W) -> (C, side, side), edge-replicated where the window leaves the image."""
    a = a[..., w.top : w.top + w.side, w.left : w.left + w.side]
    pad_b, pad_r = w.side - a.shape[-2], w.side - a.shape[-1]
    if pad_b or pad_r:
        a = np.pad(a, ((0, 0), (0, pad_b), (0, pad_r)), mode="edge")
    return a


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): output i is the mean of inputs floor(i·in/out) .. ceil((i+1)·in/out) - 1."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _cubic_matrix(n_in: int, n_out: int, a: float = -0.75) -> np.ndarray:
    """(n_out, n_in): bicubic convolution, source x = (i + 0.5)·in/out - 0.5, taps clamped to the border."""
    x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    x0 = np.floor(x)
    t = x - x0
    weights = (((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,   # |d| in (1, 2)
               ((a + 2) * t - (a + 3)) * t * t + 1,                           # |d| <= 1
               ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
               ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a)
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for k, w in enumerate(weights):
        np.add.at(m, (rows, np.clip(x0.astype(np.int64) - 1 + k, 0, n_in - 1)), w)
    return m


def resize(x: np.ndarray, size: int, mode: str = "image") -> np.ndarray:
    """(C, s, s) -> (C, size, size) float32: "image" = area down / bicubic up, "nearest" for label maps."""
    s = x.shape[-1]
    if s == size:
        return x.astype(np.float32, copy=False)
    if mode == "nearest":
        idx = np.minimum(np.floor(np.arange(size, dtype=np.float32) * np.float32(s / size)).astype(np.int64), s - 1)
        return x[:, idx][:, :, idx].astype(np.float32, copy=False)
    m = _area_matrix(s, size) if s > size else _cubic_matrix(s, size)
    return np.einsum("oi,cij,pj->cop", m, x.astype(np.float64), m).astype(np.float32)


def window_inputs(it: Item, w: Window, R: int, guidance: bool) -> dict[str, np.ndarray]:
    """The model's inputs for one window (batch of one), float32 except seg (int64):
    image (1, 3, R, R) in [-1, 1], mask (1, 1, R, R) {0, 1}; with `guidance`, seg (1, R, R) (255 = none given),
    mask_seg, edge, mask_edge (1, 1, R, R) (the guidance masks are 1 where a map was given, else 0)."""
    known = _crop(it.known[None].astype(np.float32), w)  # padding replicates the border's known/hole state
    sample = {"image": resize(_crop(it.rgb, w), R).clip(-1, 1)[None],
              "mask": (resize(known, R) > 0.999).astype(np.float32)[None]}
    if guidance:
        zeros = np.zeros((1, 1, R, R), np.float32)
        if it.seg is not None:
            sample["seg"] = resize(_crop(it.seg[None].astype(np.float32), w), R, "nearest").astype(np.int64)
            sample["mask_seg"] = np.ones_like(zeros)
        else:
            sample["seg"], sample["mask_seg"] = np.full((1, R, R), SEG_IGNORE, np.int64), zeros.copy()
        if it.edge is not None:
            sample["edge"] = (resize(_crop(it.edge[None], w), R) > 0).astype(np.float32)[None]
            sample["mask_edge"] = np.ones_like(zeros)
        else:
            sample["edge"], sample["mask_edge"] = zeros.copy(), zeros.copy()
    return sample


def paste(it: Item, w: Window, pred: np.ndarray) -> np.ndarray:
    """The image (3, H, W) with the window replaced by `pred` (3, R, R) resized to the window, clamped to [-1, 1]."""
    full = resize(np.asarray(pred, dtype=np.float32), w.side).clip(-1, 1)
    h, wd = min(w.side, w.height - w.top), min(w.side, w.width - w.left)
    fill = it.rgb.copy()
    fill[:, w.top : w.top + h, w.left : w.left + wd] = full[:, :h, :wd]
    return fill


def collate(samples: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Windows' inputs stacked along the batch axis."""
    return {k: np.concatenate([s[k] for s in samples]) for k in samples[0]}


class WindowedInpainter:
    """`inp(image, mask, seg=None, edge=None) -> image` and `inp.batch([...], [...])` for lists; with
    `num_samples=K > 1`, a list of K images per input instead of one image. Subclasses set `R`, `use_aux`,
    `num_classes` and provide `_predict` and `can_sample`."""

    R: int
    use_aux: bool = False
    num_classes: int = 0

    def __init__(self, context: float = 2.0, batch_size: int = 8, num_samples: int = 1,
                 seed: int | None = None) -> None:
        self.context, self.batch_size = context, batch_size
        self.num_samples, self.seed = self.samples_per_input(num_samples), seed

    # ------------------------------------------------------------------------------------------ backend
    @property
    def can_sample(self) -> bool:
        """True when the model draws several fills per input (e.g. DiverseInversion)."""
        raise NotImplementedError

    def _predict(self, samples: list[dict[str, np.ndarray]], items: list[int], K: int,
                 seed: int | None) -> list[np.ndarray]:
        """The raw model output (K, 3, R, R) in about [-1, 1] for each window (`items`: their input indices)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ API
    def samples_per_input(self, num_samples: int | None = None) -> int:
        """`num_samples` (default: the constructor's) as an int >= 1, or a ValueError when it is not one or the
        model cannot give that many."""
        n = getattr(self, "num_samples", 1) if num_samples is None else num_samples
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"num_samples must be a whole number >= 1, got {n!r}")
        if n > 1 and not self.can_sample:
            raise ValueError(f"num_samples={n}: {self.model_name} gives one fill per input (it cannot sample); use "
                             "num_samples=1, or a model that samples (e.g. DiverseInversion)")
        return int(n)

    @property
    def model_name(self) -> str:
        return type(self).__name__

    def __call__(self, image: ImageLike, mask: ImageLike, seg: Any = None, edge: Any = None,
                 mask_invert: bool = False, num_samples: int | None = None,
                 seed: int | None = None) -> ImageLike | list[ImageLike]:
        """One result, or a list of `num_samples` results when that is > 1."""
        return self.batch([image], [mask], None if seg is None else [seg], None if edge is None else [edge],
                          mask_invert, num_samples, seed)[0]

    def batch(self, images: Sequence[ImageLike], masks: Sequence[ImageLike], segs: Sequence[Any] | None = None,
              edges: Sequence[Any] | None = None, mask_invert: bool = False, num_samples: int | None = None,
              seed: int | None = None) -> list[ImageLike] | list[list[ImageLike]]:
        """A result per input, or per input a list of `num_samples` results when that is > 1. `num_samples` and
        `seed` default to the constructor's."""
        K = self.samples_per_input(num_samples)
        seed = self.seed if seed is None else seed
        if len(images) != len(masks):
            raise ValueError(f"{len(images)} images but {len(masks)} masks")
        items = [read_item(i, images[i], masks[i], segs[i] if segs else None, edges[i] if edges else None,
                           mask_invert) for i in range(len(images))]
        todo = [i for i, it in enumerate(items) if not it.known.all()]
        windows = {i: hole_window(items[i].known, self.R, self.context) for i in todo}
        samples = [window_inputs(items[i], windows[i], self.R, self.use_aux) for i in todo]
        preds = dict(zip(todo, self._predict(samples, todo, K, seed))) if todo else {}
        results = [[self._finish(it, windows.get(i), None if i not in preds else preds[i][k]) for k in range(K)]
                   for i, it in enumerate(items)]
        return [r[0] for r in results] if K == 1 else results

    def _finish(self, it: Item, window: Window | None, pred: np.ndarray | None) -> ImageLike:
        """The result in the input's type: `pred` (3, R, R) pasted into the hole pixels only."""
        hole = ~it.known
        fill = it.rgb if pred is None else paste(it, window, pred)
        if it.tensor is not None:  # torch's where, through the tensor's own methods
            t = it.tensor
            return t.where(t.new_tensor(it.known[None].astype(np.uint8)).bool(), t.new_tensor(fill))
        return it.native.filled(fill, hole)
