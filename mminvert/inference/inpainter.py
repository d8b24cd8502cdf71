"""Inpaint images of any size, aspect ratio and depth with a trained PyTorch model; known pixels are never changed.

Each image is processed in a square window around its hole (the hole's bounding box grown by
`context`, at least the model's resolution R, padded by edge replication where it leaves the image),
resized to R, inpainted, resized back and pasted into the hole pixels only. Inputs may be PIL images
(modes 1, L, LA, P, RGB, RGBA, I;16, I, F), numpy arrays (H, W), (H, W, 3) or (H, W, 4) of uint8 or uint16,
or tensors (3, H, W) in [-1, 1]; the output has the input's type, size, mode and depth (16-bit stays 16-bit,
grayscale stays grayscale, alpha and palette are kept): see `image_formats.py`. The windowing, resizing and
pasting are numpy code shared with the onnxruntime backend (`windowing.py`, `OnnxInpainter`). Masks: 1 / white = known,
0 / black = hole (or transparent, for masks with alpha), unless `mask_invert`; integer masks holding only
0 and 1 read as 0 = hole, 1 = known (with a warning). A mask whose size differs from its image is an error
(no silent resizing). An empty hole returns the input; an all-hole mask generates the whole image (both with
a warning; boolean masks are taken as given).

Several fills per input (models that can sample, e.g. DiverseInversion): `num_samples=K` (in the constructor
or per call) gives a list of K results per input, drawn with `seed`; item i of a call uses seed + i, so a
result depends only on the input, K and that seed (not on batching). `num_samples=1` without a seed gives the
model's own fill (its forward, with the global RNG at seed 0 for a forward that draws, so it repeats); with a
seed, one drawn fill. Models that give one fill per input
(MMInvertFill) refuse num_samples > 1 with a ValueError.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.run_data import DATA_RECORD_KEY, read_data_record
from ..io.checkpoint_file import read_checkpoint
from .bundle import check_replaceable, model_from_checkpoint_dict, save_bundle
from .model_classes import supports_sampling
from .windowing import ImageLike, WindowedInpainter, hole_window, read_item, window_inputs

__all__ = ["Inpainter"]


class Inpainter(WindowedInpainter):
    """`inp(image, mask, seg=None, edge=None) -> image` and `inp.batch([...], [...])` for lists; with
    `num_samples=K > 1`, a list of K images per input instead of one image."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", context: float = 2.0,
                 batch_size: int = 8, num_samples: int = 1, seed: int | None = None) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.R = model.generator.resolution
        encoder = getattr(model, "encoder", None)  # models without guidance branches read image and mask only
        self.num_classes = int(getattr(encoder, "num_classes", 0))
        self.use_aux = bool(getattr(encoder, "use_aux", False))
        self.data_record: dict[str, Any] | None = None  # the training data (from_checkpoint), carried into bundles
        super().__init__(context, batch_size, num_samples, seed)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu", **kwargs: Any) -> Inpainter:
        """From an inference bundle or a training checkpoint of an inpainting task (any registered model class),
        with the record of the data set it was trained on (`data_record`, None when the file has none)."""
        obj = read_checkpoint(path, "cpu")
        inp = cls(model_from_checkpoint_dict(obj, path).to(device), device, **kwargs)
        inp.data_record = read_data_record(obj, path)
        return inp

    @property
    def class_names(self) -> list[str]:
        """Names of the segmentation classes from the training data's record ("class k" where unknown)."""
        names = list((self.data_record or {}).get("class_names") or [])
        return names if len(names) == self.num_classes else [f"class {k}" for k in range(self.num_classes)]

    def export(self, path: str | Path, overwrite: bool = False, format: str | None = None,
               training_run: str = "") -> Path:
        """Write an inference bundle carrying the class names and the record of the training data (so
        `evaluate.py ckpt=<bundle>` scores that data set), or an ONNX graph when `format="onnx"` or the path ends
        in .onnx (see onnx_export.py). Refuses to replace an existing file unless `overwrite`, and then only an
        earlier mminvert bundle or ONNX export: never an image, a training checkpoint or any other file."""
        fmt = export_format(path, format)
        if Path(path).exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        check_replaceable(path)
        if fmt == "onnx":
            from .onnx_export import export_onnx

            return export_onnx(self.model, path, training_run=training_run)
        extra: dict[str, Any] = {"class_names": self.class_names}
        if self.data_record is not None:
            extra[DATA_RECORD_KEY] = self.data_record
        return save_bundle(self.model, path, **extra)

    @property
    def can_sample(self) -> bool:
        return supports_sampling(self.model)

    @property
    def model_name(self) -> str:
        return type(self.model).__name__

    @staticmethod
    def check_num_samples(model: torch.nn.Module, num_samples: int) -> int:
        """`num_samples` as an int >= 1, or a ValueError when it is not one or the model cannot give that many."""
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"num_samples must be a whole number >= 1, got {num_samples!r}")
        if num_samples > 1 and not supports_sampling(model):
            raise ValueError(f"num_samples={num_samples}: {type(model).__name__} gives one fill per input (it cannot "
                             "sample); use num_samples=1, or a model that samples (e.g. DiverseInversion)")
        return int(num_samples)

    # ------------------------------------------------------------------------------------------ the model
    def _collate(self, samples: list[dict[str, np.ndarray]]) -> dict[str, Tensor]:
        return {k: torch.from_numpy(np.concatenate([s[k] for s in samples])).to(self.device) for k in samples[0]}

    def _forward_fills(self, samples: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """The model's forward fill of each sample, in batches. A forward pass that draws from the global RNG (a
        sampling model's, e.g. DiverseInversion's random code) draws from seed 0 in a forked RNG state: the same input
        gives the same fill on every call, and the caller's RNG is left as it was."""
        cuda = self.device.type == "cuda"
        preds = []
        with torch.random.fork_rng(devices=[self.device] if cuda else []):
            torch.random.default_generator.manual_seed(0)
            if cuda:  # only the model's device: the others keep their state (fork_rng restores this one only)
                with torch.cuda.device(self.device):
                    torch.cuda.manual_seed(0)
            for start in range(0, len(samples), self.batch_size):
                out = self.model(self._collate(samples[start : start + self.batch_size]))["image"]
                preds += [p[None] for p in out.float().cpu().numpy()]
        return preds

    @torch.no_grad()
    def _predict(self, samples: list[dict[str, np.ndarray]], items: list[int], K: int,
                 seed: int | None) -> list[np.ndarray]:
        if K == 1 and (seed is None or not self.can_sample):  # the model's own fill, batched
            return self._forward_fills(samples)
        # K fills drawn per item with seed + i (independent of how items are batched)
        return [self.model.sample(self._collate([s]), num_samples=K, seed=int(seed or 0) + i)["image"][0]
                .float().cpu().numpy() for s, i in zip(samples, items)]

    # ------------------------------------------------------------------------------------------ extras
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
        it = read_item(0, image, mask, seg, edge, mask_invert)
        panels: dict[str, Any] = dict.fromkeys(("window", "input", "mask", "output", "composite", "seg", "edge"))
        if it.known.all():
            panels["result"] = self._finish(it, None, None)
            return panels
        window = hole_window(it.known, self.R, self.context)
        batch = self._collate([window_inputs(it, window, self.R, self.use_aux)])
        out = self.model(batch)
        pred = out["image"].float().cpu()
        panels["result"] = self._finish(it, window, pred[0].numpy())
        inp, m = batch["image"][0].float().cpu(), batch["mask"][0].float().cpu()
        panels.update(window=(window.top, window.left, window.side), input=inp, mask=m, output=pred[0].clamp(-1, 1),
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
        it = read_item(0, image, mask, None, None, mask_invert)
        if it.known.all():
            return self._finish(it, None, None)
        window = hole_window(it.known, self.R, self.context)
        sample = window_inputs(it, window, self.R, False)
        pred = fill(torch.from_numpy(sample["image"]), torch.from_numpy(sample["mask"]))
        return self._finish(it, window, pred[0].detach().float().cpu().numpy())


def export_format(path: str | Path, format: str | None = None) -> str:
    """"bundle" or "onnx": `format` when given, else from the suffix (.onnx -> onnx, anything else -> bundle)."""
    if format is None or format == "auto":
        return "onnx" if Path(path).suffix.lower() == ".onnx" else "bundle"
    if format not in ("bundle", "onnx"):
        raise ValueError(f"format must be bundle or onnx, got {format!r}")
    if format == "bundle" and Path(path).suffix.lower() == ".onnx":
        raise ValueError(f"format=bundle but {path} ends in .onnx: name a bundle .pt, or use format=onnx")
    return format
