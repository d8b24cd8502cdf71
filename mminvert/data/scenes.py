"""Procedural outdoor scenes with an exact per-pixel class map (the built-in, offline data set).

A scene is a layout (drawn from ``SeedSequence([seed, index])``, independent of the resolution) painted
back-to-front at ``supersample × resolution``: sky gradient (day / sunset / dusk / night), sun or moon,
clouds, 0–3 mountain ranges, a lake, grass or bare ground with an optional path, buildings with window
grids, deciduous and conifer trees. Labels are written by the same boolean masks that paint the colours,
so they are exact at the supersampled resolution; the image is then area-downsampled (anti-aliased) and
the label map nearest-downsampled (pixel centres).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from ..io.atomic import atomic_path
from .scene_painters import (
    SCENE_CLASSES,
    apply_light,
    paint_building,
    paint_clouds,
    paint_lake,
    paint_land,
    paint_mountains,
    paint_sky,
    paint_sun,
    paint_tree,
    place_objects,
    start_scene,
)

__all__ = ["SCENE_CLASSES", "SCENES_VERSION", "render_scene", "ScenesSource"]

# Bump when the renderer changes what a given (seed, index) looks like (invalidates disk caches).
SCENES_VERSION = 1


def render_scene(seed: int, index: int, resolution: int, supersample: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Render scene ``index`` of stream ``seed``.

    Returns ``image`` (H,W,3) uint8 RGB and ``labels`` (H,W) uint8 with classes ``SCENE_CLASSES``;
    H = W = ``resolution``. Deterministic in (seed, index, resolution, supersample); the layout does not
    depend on the resolution.
    """
    if resolution < 8 or supersample < 1:
        raise ValueError(f"resolution must be >= 8 and supersample >= 1, got {resolution}, {supersample}")
    lay_ss, tex_ss = np.random.SeedSequence([int(seed), int(index), SCENES_VERSION]).spawn(2)
    rng = np.random.default_rng(lay_ss)  # layout: every draw is resolution-independent
    trng = np.random.default_rng(tex_ss)  # per-pixel texture only
    s = start_scene(rng, trng, resolution * supersample)
    for paint in (paint_sky, paint_sun, paint_clouds, paint_mountains, paint_lake, paint_land):
        paint(s)
    for _, kind, p in place_objects(s):
        (paint_building if kind == "building" else paint_tree)(s, **p)
    apply_light(s)

    img = np.clip(s.cv.img, 0, 255)
    if supersample > 1:
        img = cv2.resize(img, (resolution, resolution), interpolation=cv2.INTER_AREA)
        lab = s.cv.lab[supersample // 2 :: supersample, supersample // 2 :: supersample]
    else:
        lab = s.cv.lab
    return np.ascontiguousarray(np.rint(img).astype(np.uint8)), np.ascontiguousarray(lab)


class ScenesSource:
    """Split of the procedural scenes data set: item ``i`` is scene ``offset + i`` of stream ``seed``.

    Splits are disjoint index ranges: train = [0, num_train), val = [num_train, num_train + num_val),
    test = the next ``num_test``. ``load(i)`` returns ``(image (H,W,3) uint8, labels (H,W) uint8, None)``.
    ``cache``: ``None`` (render every time), ``"memory"`` (per-process LRU of ``cache_size`` items) or
    ``"disk"`` (``.npz`` files under ``cache_dir``, keyed by version, seed, resolution and supersample).
    """

    class_names: tuple[str, ...] = SCENE_CLASSES

    def __init__(
        self,
        split: str,
        resolution: int,
        seed: int = 0,
        num_train: int = 50_000,
        num_val: int = 512,
        num_test: int = 1_000,
        supersample: int = 2,
        cache: str | None = None,
        cache_size: int = 20_000,
        cache_dir: str | None = None,
    ) -> None:
        ranges = {"train": (0, num_train), "val": (num_train, num_val), "test": (num_train + num_val, num_test)}
        if split not in ranges:
            raise ValueError(f"unknown split {split!r}; expected one of {sorted(ranges)}")
        if cache not in (None, "memory", "disk"):
            raise ValueError(f"cache must be null, 'memory' or 'disk', got {cache!r}")
        if cache == "disk" and not cache_dir:
            raise ValueError("cache='disk' needs cache_dir")
        self.split, self.resolution, self.seed, self.supersample = split, int(resolution), int(seed), int(supersample)
        self.offset, self.length = ranges[split]
        self.cache, self.cache_size = cache, int(cache_size)
        self._mem: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._dir = None
        if cache == "disk":
            tag = f"v{SCENES_VERSION}_s{self.seed}_r{self.resolution}_x{self.supersample}"
            self._dir = Path(cache_dir) / tag

    def __len__(self) -> int:
        return self.length

    def key(self, i: int) -> str:
        """Stable identifier of item ``i`` (used for logging and edge caching)."""
        return f"scenes/{self.seed}/{self.offset + i}"

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, str | None]:
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for scenes split {self.split!r} of length {self.length}")
        g = self.offset + i
        if self.cache == "memory" and g in self._mem:
            self._mem.move_to_end(g)
            img, lab = self._mem[g]
            return img, lab, None
        if self._dir is not None:
            f = self._dir / f"{g:08d}.npz"
            if f.exists():
                with np.load(f) as z:
                    return z["image"], z["labels"], None
        img, lab = render_scene(self.seed, g, self.resolution, self.supersample)
        if self.cache == "memory":
            self._mem[g] = (img, lab)
            if len(self._mem) > self.cache_size:
                self._mem.popitem(last=False)
        elif self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(f) as tmp, open(tmp, "wb") as out:  # concurrent workers never read a half-written file
                np.savez(out, image=img, labels=lab)
        return img, lab, None
