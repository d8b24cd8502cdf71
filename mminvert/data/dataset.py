"""The inpainting dataset: a source's images and labels -> samples of the batch contract.

Sample: `image` (3, R, R) float in [-1, 1]; `seg` (R, R) int64, 255 = ignore (all 255 without labels);
`edge` (1, R, R) {0, 1} (Canny on the clean, augmented image); `mask`, `mask_seg`, `mask_edge`
(1, R, R) {0, 1}, 1 = known; `index`; `path` ("" when there is none).

Every sample is a pure function of (seed, key): training keys are *draw numbers* (`epoch · N + index`,
see `ResumableSampler`), evaluation keys are indices. Geometry, augmentation and masks come from
`SeedSequence([seed, key])`, so samples do not depend on workers, ranks or where a run was resumed,
and validation is identical every time.
"""
from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .edges import canny_edges
from .label_maps import IGNORE_INDEX
from .masks import MaskGenerator, ModalityMasks

__all__ = ["InpaintingDataset", "fit_geometry"]

log = logging.getLogger(__name__)


def fit_geometry(img: np.ndarray, labels: np.ndarray | None, size: int, crop: str,
                 rng: np.random.Generator | None, hflip: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize the short side to `size` (area for images, nearest for labels), then a centre or random
    `size`x`size` crop, then an optional random horizontal flip."""
    h, w = img.shape[:2]
    if (h, w) != (size, size):
        s = size / min(h, w)
        nh, nw = max(size, round(h * s)), max(size, round(w * s))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
        img = cv2.resize(img, (nw, nh), interpolation=interp)
        if labels is not None:
            labels = cv2.resize(labels, (nw, nh), interpolation=cv2.INTER_NEAREST)
        if crop == "random" and rng is not None:
            y0, x0 = int(rng.integers(0, nh - size + 1)), int(rng.integers(0, nw - size + 1))
        else:
            y0, x0 = (nh - size) // 2, (nw - size) // 2
        img = img[y0 : y0 + size, x0 : x0 + size]
        if labels is not None:
            labels = labels[y0 : y0 + size, x0 : x0 + size]
    if hflip and rng is not None and rng.uniform() < 0.5:
        img = img[:, ::-1]
        labels = labels[:, ::-1] if labels is not None else None
    return np.ascontiguousarray(img), None if labels is None else np.ascontiguousarray(labels)


def _check_label_range(labels: np.ndarray, num_classes: int, path: str | None) -> None:
    """Labels must be class ids 0..num_classes-1 or 255 (ignore); anything else is an error naming the file."""
    ids = np.unique(labels)
    bad = ids[(ids >= num_classes) & (ids != IGNORE_INDEX)]
    if bad.size == 0:
        return
    if num_classes == 0:
        raise ValueError(f"label map of {path}: the data has label maps but data.num_classes=0: set "
                         "data.num_classes to their number of classes (or drop data.source.labels_root)")
    raise ValueError(f"label map of {path}: ids {bad[:10].tolist()} are not classes of data.num_classes={num_classes} "
                     f"(ids 0..{num_classes - 1}, 255 = ignore; convert other ids with data.source.label_map)")


class InpaintingDataset(Dataset):
    """`source` (see folder.py / scenes.py), `resolution` R, hole masks from `mask_generator` (training)
    or `eval_masks` (anything with `load(i)`), auxiliary masks from `modality` (tied to `mask` when None)."""

    def __init__(self, source: Any, resolution: int, mask_generator: MaskGenerator | None = None,
                 eval_masks: Any = None, modality: ModalityMasks | None = None, train: bool = True,
                 crop: str = "center", hflip: bool = False, augment: Any = None,
                 edges: dict[str, float] | None = None, seed: int = 0, on_error: str = "raise",
                 cache_edges: bool = False, num_classes: int | None = None, images_only: bool = False) -> None:
        if mask_generator is None and eval_masks is None:
            raise ValueError("a dataset needs a mask generator or a set of evaluation masks")
        if crop not in ("center", "random"):
            raise ValueError(f"crop must be 'center' or 'random', got {crop!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.source, self.resolution = source, int(resolution)
        self.mask_generator, self.eval_masks, self.modality = mask_generator, eval_masks, modality
        self.train, self.crop, self.hflip, self.augment = train, crop, hflip, augment
        self.edges = dict(edges or {})
        self.seed, self.on_error = int(seed), on_error
        self.num_classes = num_classes  # labels are checked against it (None: not checked)
        self.images_only = bool(images_only)  # {image, index, path} only: no edges or masks (GAN training)
        self.skipped = 0
        # Edge maps of un-augmented, centre-cropped images depend only on the index: cache them (per worker).
        self.cache_edges = cache_edges and augment is None and (crop == "center" or not train)
        self._edge_cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.source)

    def _rng(self, key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, int(key)]))

    def _load(self, index: int) -> tuple[int, np.ndarray, np.ndarray | None, str | None]:
        for attempt in range(len(self.source)):
            i = (index + attempt) % len(self.source)
            try:
                img, labels, path = self.source.load(i)
                if labels is not None and self.num_classes is not None:
                    _check_label_range(labels, self.num_classes, path)
                return i, img, labels, path
            except (OSError, ValueError) as e:
                if self.on_error == "raise":
                    raise
                self.skipped += 1
                log.warning("skipping unreadable sample %d (%s); %d skipped so far", i, e, self.skipped)
        raise RuntimeError("every sample of the data set failed to load")

    def _edges(self, index: int, img: np.ndarray) -> np.ndarray:
        if index not in self._edge_cache:
            self._edge_cache[index] = canny_edges(img, **self.edges)
        return self._edge_cache[index]

    def __getitem__(self, key: int) -> dict[str, Any]:
        rng = self._rng(key)
        index, img, labels, path = self._load(int(key) % len(self.source))
        img, labels = fit_geometry(img, labels, self.resolution, self.crop if self.train else "center",
                                   rng if self.train else None, hflip=False)
        flip = self.hflip and self.train and rng.uniform() < 0.5
        edge = self._edges(index, img) if self.cache_edges else None
        if flip:
            img, labels = np.ascontiguousarray(img[:, ::-1]), None if labels is None else np.ascontiguousarray(labels[:, ::-1])
            edge = None if edge is None else np.ascontiguousarray(edge[:, ::-1])
        image = torch.from_numpy(img).permute(2, 0, 1).float() / 127.5 - 1
        seg = (torch.from_numpy(labels.astype(np.int64)) if labels is not None
               else torch.full((self.resolution, self.resolution), IGNORE_INDEX, dtype=torch.int64))
        if self.augment is not None and self.train:
            with torch.random.fork_rng(devices=[]):  # kornia draws from torch's RNG: seed it from this sample
                torch.manual_seed(int(rng.integers(0, 2**62)))
                image, seg = self.augment(image, seg)
            img = ((image.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        if self.images_only:
            return {"image": image, "index": index, "path": path or ""}
        if edge is None:
            edge = canny_edges(img, **self.edges)
        mask = self.eval_masks.load(index) if self.eval_masks is not None else \
            self.mask_generator(rng, self.resolution, self.resolution)
        m_seg, m_edge = self.modality.pair(rng, mask) if self.modality is not None else (mask, mask)

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]

        return {"image": image, "seg": seg, "edge": t(edge), "mask": t(mask), "mask_seg": t(m_seg),
                "mask_edge": t(m_edge), "index": index, "path": path or ""}
