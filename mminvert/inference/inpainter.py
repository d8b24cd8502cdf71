"""Inpaint images of any size, aspect ratio and depth with a trained model; known pixels are never changed.

Each image is processed in a square window around its hole (the hole's bounding box grown by
`context`, at least the model's resolution R, padded by edge replication where it leaves the image),
resized to R, inpainted, resized back and pasted into the hole pixels only. Inputs may be PIL images
(modes 1, L, LA, P, RGB, RGBA, I;16, I, F), numpy arrays (H, W), (H, W, 3) or (H, W, 4) of uint8 or uint16,
or tensors (3, H, W) in [-1, 1]; the output has the input's type, size, mode and depth (16-bit stays 16-bit,
grayscale stays grayscale, alpha and palette are kept): see `image_formats.py`. Masks: 1 / white = known,
0 / black = hole (or transparent, for masks with alpha), unless `mask_invert`; integer masks holding only
0 and 1 read as 0 = hole, 1 = known (with a warning). A mask whose size differs from its image is an error
(no silent resizing). An empty hole returns the input; an all-hole mask generates the whole image (both with
a warning; boolean masks are taken as given).

Several fills per input (models that can sample, e.g. DiverseInversion): `num_samples=K` (in the constructor
or per call) gives a list of K results per input, drawn with `seed`; item i of a call uses seed + i, so a
result depends only on the input, K and that seed (not on batching). `num_samples=1` without a seed gives the
model's deterministic fill (its forward); with a seed, one drawn fill. Models that give one fill per input
(MMInvertFill) refuse num_samples > 1 with a ValueError.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .bundle import check_replaceable, load_bundle, save_bundle
from .image_formats import NativeImage, known_pixels
from .model_classes import supports_sampling

__all__ = ["Inpainter"]

ImageLike = Image.Image | np.ndarray | Tensor


@dataclass
class _Item:
    """One image of a batch: what the model reads (`rgb`, `known`, guidance) and how to write the result back."""
    rgb: Tensor                  # (3, H, W) float in [-1, 1]
    known: Tensor                # (H, W) bool
    seg: Tensor | None           # (H, W) int64
    edge: Tensor | None          # (H, W) float {0, 1}
    native: NativeImage | None   # PIL / numpy inputs, at their own depth
    tensor: Tensor | None        # tensor inputs


def _resize(x: Tensor, size: int, mode: str) -> Tensor:
    """x (B, C, s, s) -> (B, C, size, size); 'image' uses area down / bicubic up, 'nearest' for labels."""
    if x.shape[-1] == size:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=(size, size), mode="nearest")
    if x.shape[-1] > size:
        return F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)


class Inpainter:
    """`inp(image, mask, seg=None, edge=None) -> image` and `inp.batch([...], [...])` for lists; with
    `num_samples=K > 1`, a list of K images per input instead of one image."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", context: float = 2.0,
                 batch_size: int = 8, num_samples: int = 1, seed: int | None = None) -> None:
        self.device = torch.device(device)
        self.num_samples, self.seed = self.check_num_samples(model, num_samples), seed
        self.model = model.to(self.device).eval()
        self.R = model.generator.resolution
        self.context, self.batch_size = context, batch_size
        encoder = getattr(model, "encoder", None)  # models without guidance branches read image and mask only
        self.num_classes = int(getattr(encoder, "num_classes", 0))
        self.use_aux = bool(getattr(encoder, "use_aux", False))

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu", **kwargs: Any) -> Inpainter:
        """From an inference bundle or a training checkpoint of an inpainting task (any registered model class)."""
        return cls(load_bundle(path, map_location=device), device, **kwargs)

    def export(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write an inference bundle (refuses to replace an existing file unless `overwrite`, and then only an
        earlier mminvert bundle: never an image, a training checkpoint or any other file)."""
        if Path(path).exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        check_replaceable(path)
        return save_bundle(self.model, path)

    @staticmethod
    def check_num_samples(model: torch.nn.Module, num_samples: int) -> int:
        """`num_samples` as an int >= 1, or a ValueError when it is not one or the model cannot give that many."""
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"num_samples must be a whole number >= 1, got {num_samples!r}")
        if num_samples > 1 and not supports_sampling(model):
            raise ValueError(f"num_samples={num_samples}: {type(model).__name__} gives one fill per input (it cannot "
                             "sample); use num_samples=1, or a model that samples (e.g. DiverseInversion)")
        return int(num_samples)

    # ------------------------------------------------------------------------------------------ API
    def __call__(self, image: ImageLike, mask: ImageLike, seg: Any = None, edge: Any = None,
                 mask_invert: bool = False, num_samples: int | None = None,
                 seed: int | None = None) -> ImageLike | list[ImageLike]:
        """One result, or a list of `num_samples` results when that is > 1 (see the module docstring)."""
        return self.batch([image], [mask], None if seg is None else [seg], None if edge is None else [edge],
                          mask_invert, num_samples, seed)[0]

    @torch.no_grad()
    def batch(self, images: Sequence[ImageLike], masks: Sequence[ImageLike], segs: Sequence[Any] | None = None,
              edges: Sequence[Any] | None = None, mask_invert: bool = False, num_samples: int | None = None,
              seed: int | None = None) -> list[ImageLike] | list[list[ImageLike]]:
        """A result per input, or per input a list of `num_samples` results when that is > 1. `num_samples` and
        `seed` default to the constructor's."""
        K = self.check_num_samples(self.model, self.num_samples if num_samples is None else num_samples)
        seed = self.seed if seed is None else seed
        if len(images) != len(masks):
            raise ValueError(f"{len(images)} images but {len(masks)} masks")
        items = [self._item(i, images[i], masks[i], segs[i] if segs else None, edges[i] if edges else None,
                            mask_invert) for i in range(len(images))]
        todo = [i for i, it in enumerate(items) if not bool(it.known.all())]
        windows = {i: self._window(items[i]) for i in todo}
        preds: dict[int, Tensor] = {}  # item -> (K, 3, R, R)
        if K == 1 and (seed is None or not supports_sampling(self.model)):  # the model's own fill, batched
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                out = self.model(self._collate([windows[i][0] for i in chunk]))["image"].float().cpu()
                for j, i in enumerate(chunk):
                    preds[i] = out[j : j + 1]
        else:  # K fills drawn per item with seed + i (independent of how items are batched)
            for i in todo:
                out = self.model.sample(self._collate([windows[i][0]]), num_samples=K, seed=int(seed or 0) + i)
                preds[i] = out["image"][0].float().cpu()
        results = [[self._finish(it, windows.get(i), None if i not in preds else preds[i][k]) for k in range(K)]
                   for i, it in enumerate(items)]
        return [r[0] for r in results] if K == 1 else results

    @torch.no_grad()
    def inspect(self, image: ImageLike, mask: ImageLike, seg: Any = None, edge: Any = None,
                mask_invert: bool = False) -> dict[str, Any]:
        """One image with what the model saw and predicted, for display (the app's result panels).

        Returns `result` (as `__call__`) and, in the square window the model ran on (resized to R):
        `window` (top, left, side) in input pixels, `input` (3, R, R) and `output` (raw generator output,
        3, R, R) in [-1, 1], `mask` (1, R, R) {0, 1}, `composite` input ⊙ M + output ⊙ (1 − M),
        `seg` (R, R) int64 predicted labels and `edge` (R, R) edge probabilities in [0, 1] (None for a model
        without auxiliary branches). An empty hole returns `result` only (everything else None).
        """
        it = self._item(0, image, mask, seg, edge, mask_invert)
        panels: dict[str, Any] = dict.fromkeys(("window", "input", "mask", "output", "composite", "seg", "edge"))
        if bool(it.known.all()):
            panels["result"] = self._finish(it, None, None)
            return panels
        window = self._window(it)
        batch = self._collate([window[0]])
        out = self.model(batch)
        pred = out["image"].float().cpu()
        panels["result"] = self._finish(it, window, pred[0])
        inp, m = batch["image"][0].float().cpu(), batch["mask"][0].float().cpu()
        panels.update(window=window[1][:3], input=inp, mask=m, output=pred[0].clamp(-1, 1),
                      composite=inp * m + pred[0].clamp(-1, 1) * (1 - m))
        seg_logits, edge_logits = ((out.get(k) or [None])[-1] for k in ("seg", "edge"))
        if seg_logits is not None:
            panels["seg"] = seg_logits[0].float().argmax(0).cpu()
        if edge_logits is not None:
            panels["edge"] = torch.sigmoid(edge_logits[0, 0].float()).cpu()
        return panels

    def fill_with(self, fill: Callable[[Tensor, Tensor], Tensor], image: ImageLike, mask: ImageLike,
                  mask_invert: bool = False) -> ImageLike:
        """Run another method through this Inpainter's window logic (any size and mode, known pixels
        unchanged): `fill(image (1, 3, R, R) in [-1, 1], mask (1, 1, R, R)) -> (1, 3, R, R)` on CPU tensors."""
        it = self._item(0, image, mask, None, None, mask_invert)
        if bool(it.known.all()):
            return self._finish(it, None, None)
        window = self._window(it)
        pred = fill(window[0]["image"], window[0]["mask"])
        return self._finish(it, window, pred[0].detach().float().cpu())

    # ------------------------------------------------------------------------------------------ steps
    def _item(self, idx: int, image: ImageLike, mask: ImageLike, seg: Any, edge: Any, invert: bool) -> _Item:
        known_np = known_pixels(mask, invert, name=f"mask {idx}")
        if isinstance(image, Tensor):
            if image.ndim != 3 or image.shape[0] != 3:
                raise ValueError(f"tensor images must be (3, H, W) in [-1, 1], got {tuple(image.shape)}")
            native, tensor, size = None, image.detach().cpu(), tuple(image.shape[-2:])
        else:
            native, tensor = NativeImage.of(image), None
            size = native.size
        if tuple(known_np.shape) != size:
            raise ValueError(f"item {idx}: mask size {tuple(known_np.shape)} differs from image size {size} (H, W)")
        if native is not None:
            native.fit_range(known_np)  # I and F images: their range is the known pixels' min..max
        rgb = tensor.float() if tensor is not None else native.model_input()
        known = torch.from_numpy(known_np)
        seg_t = torch.as_tensor(np.asarray(seg)).long() if seg is not None else None
        edge_t = (torch.as_tensor(np.asarray(edge)).float() > 0.5).float() if edge is not None else None
        for name, t in (("seg", seg_t), ("edge", edge_t)):
            if t is not None and tuple(t.shape) != tuple(known.shape):
                raise ValueError(f"item {idx}: {name} size {tuple(t.shape)} differs from image size {size}")
        return _Item(rgb, known, seg_t, edge_t, native, tensor)

    def _window(self, it: _Item) -> tuple[dict[str, Tensor], tuple[int, int, int, int, int]]:
        H, W = it.known.shape
        ys, xs = torch.nonzero(~it.known, as_tuple=True)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        side = max(self.R, math.ceil(self.context * max(y1 - y0, x1 - x0)))
        side = min(side, max(H, W))
        top = min(max((y0 + y1) // 2 - side // 2, 0), max(H - side, 0))
        left = min(max((x0 + x1) // 2 - side // 2, 0), max(W - side, 0))
        pad_b, pad_r = max(top + side - H, 0), max(left + side - W, 0)

        def crop(t: Tensor, mode: str = "replicate") -> Tensor:
            t = t[..., top : top + side, left : left + side]
            if pad_b or pad_r:
                t = F.pad(t[None].float(), (0, pad_r, 0, pad_b), mode=mode)[0]
            return t

        known = crop(it.known[None].float())  # padding replicates the border's known/hole state
        sample = {"image": _resize(crop(it.rgb)[None], self.R, "image").clamp(-1, 1),
                  "mask": (_resize(known[None], self.R, "image") > 0.999).float()}
        if self.use_aux:
            zeros = torch.zeros(1, 1, self.R, self.R)
            if it.seg is not None:
                sample["seg"] = _resize(crop(it.seg[None].float())[None], self.R, "nearest")[:, 0].long()
                sample["mask_seg"] = torch.ones_like(zeros)
            else:
                sample["seg"] = torch.full((1, self.R, self.R), 255, dtype=torch.long)
                sample["mask_seg"] = zeros
            if it.edge is not None:
                sample["edge"] = (_resize(crop(it.edge[None])[None], self.R, "image") > 0).float()
                sample["mask_edge"] = torch.ones_like(zeros)
            else:
                sample["edge"], sample["mask_edge"] = zeros.clone(), zeros.clone()
        return sample, (top, left, side, H, W)

    def _collate(self, samples: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        return {k: torch.cat([s[k] for s in samples]).to(self.device) for k in samples[0]}

    def _finish(self, it: _Item, window: Any, pred: Tensor | None) -> ImageLike:
        hole = ~it.known
        if pred is None:  # nothing to fill
            fill = it.rgb
        else:
            _, (top, left, side, H, W) = window
            full = _resize(pred[None], side, "image")[0].clamp(-1, 1)
            h, w = min(side, H - top), min(side, W - left)
            fill = it.rgb.clone()
            fill[:, top : top + h, left : left + w] = full[:, :h, :w]
        if it.tensor is not None:
            return torch.where(hole[None], fill.to(it.tensor.dtype), it.tensor)
        return it.native.filled(fill, hole.numpy())
