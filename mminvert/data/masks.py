"""Hole masks (1 = known, 0 = hole) for training and evaluation.

Generators are callables `gen(rng, height, width) -> (H, W) float32 {0, 1}` drawing from a numpy
`Generator`, so every mask is reproducible from its seed:
- `FreeFormMasks`: DeepFill/LaMa-style brush strokes (random walks of thick line segments);
- `BoxMasks`: random rectangles;
- `OutpaintMasks`: keep a centre region, or keep everything but the corners / one side;
- `MixedMasks`: one of several generators with given probabilities;
- `BucketMasks`: rejection-sampled unions of strokes and boxes whose hole ratio lies in [lo, hi].
`ModalityMasks` derives the segmentation / edge masks from the image mask.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

__all__ = ["MaskGenerator", "FreeFormMasks", "BoxMasks", "OutpaintMasks", "MixedMasks", "BucketMasks",
           "ModalityMasks", "hole_ratio", "MASKS_VERSION"]

MASKS_VERSION = 1  # bump when a generator changes what a given seed draws (invalidates evaluation sets)


class MaskGenerator(Protocol):
    def __call__(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray: ...


def hole_ratio(mask: np.ndarray) -> float:
    """Fraction of hole pixels (mask == 0)."""
    return float(1.0 - mask.mean())


class FreeFormMasks:
    """Brush strokes: `strokes` random walks of `vertices` segments, widths and lengths relative to the image
    size (so one config serves every resolution)."""

    def __init__(self, strokes: Sequence[int] = (1, 5), vertices: Sequence[int] = (4, 12),
                 width: Sequence[float] = (0.03, 0.12), length: Sequence[float] = (0.05, 0.25)) -> None:
        self.strokes, self.vertices, self.width, self.length = tuple(strokes), tuple(vertices), tuple(width), tuple(length)

    def __call__(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        hole = np.zeros((height, width), np.uint8)
        size = max(height, width)
        for _ in range(int(rng.integers(self.strokes[0], self.strokes[1] + 1))):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            w = max(1, int(rng.uniform(*self.width) * size))
            angle = rng.uniform(0, 2 * math.pi)
            for _ in range(int(rng.integers(self.vertices[0], self.vertices[1] + 1))):
                angle += rng.uniform(-math.pi / 3, math.pi / 3)
                step = rng.uniform(*self.length) * size
                nx = float(np.clip(x + step * math.cos(angle), 0, width - 1))
                ny = float(np.clip(y + step * math.sin(angle), 0, height - 1))
                cv2.line(hole, (int(x), int(y)), (int(nx), int(ny)), 1, w)
                cv2.circle(hole, (int(nx), int(ny)), w // 2, 1, -1)
                x, y = nx, ny
        return (1 - hole).astype(np.float32)


class BoxMasks:
    """`count` rectangles, each side a uniform fraction `size` of the image side."""

    def __init__(self, count: Sequence[int] = (1, 3), size: Sequence[float] = (0.1, 0.5)) -> None:
        self.count, self.size = tuple(count), tuple(size)

    def __call__(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        mask = np.ones((height, width), np.float32)
        for _ in range(int(rng.integers(self.count[0], self.count[1] + 1))):
            bh = max(1, int(rng.uniform(*self.size) * height))
            bw = max(1, int(rng.uniform(*self.size) * width))
            y0, x0 = int(rng.integers(0, height - bh + 1)), int(rng.integers(0, width - bw + 1))
            mask[y0 : y0 + bh, x0 : x0 + bw] = 0
        return mask


class OutpaintMasks:
    """`mode` 'center' keeps a centred box of relative side `keep`; 'corners' removes the four corners;
    'side' removes a band of relative width 1 − keep on one random side."""

    def __init__(self, mode: str = "center", keep: Sequence[float] = (0.4, 0.7)) -> None:
        if mode not in ("center", "corners", "side"):
            raise ValueError(f"outpaint mode must be 'center', 'corners' or 'side', got {mode!r}")
        self.mode, self.keep = mode, tuple(keep)

    def __call__(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        k = rng.uniform(*self.keep)
        if self.mode == "center":
            mask = np.zeros((height, width), np.float32)
            kh, kw = max(1, int(k * height)), max(1, int(k * width))
            y0, x0 = (height - kh) // 2, (width - kw) // 2
            mask[y0 : y0 + kh, x0 : x0 + kw] = 1
            return mask
        mask = np.ones((height, width), np.float32)
        if self.mode == "corners":
            ch, cw = int((1 - k) / 2 * height), int((1 - k) / 2 * width)
            for ys in (slice(0, ch), slice(height - ch, height)):
                for xs in (slice(0, cw), slice(width - cw, width)):
                    mask[ys, xs] = 0
            return mask
        band = int((1 - k) * (height if rng.integers(2) else width))
        side = int(rng.integers(4))
        if side == 0:
            mask[:band] = 0
        elif side == 1:
            mask[height - band :] = 0
        elif side == 2:
            mask[:, :band] = 0
        else:
            mask[:, width - band :] = 0
        return mask


class MixedMasks:
    """Draw from one of `generators` with probabilities `probs` (normalised)."""

    def __init__(self, generators: Sequence[MaskGenerator], probs: Sequence[float] | None = None) -> None:
        if not generators:
            raise ValueError("MixedMasks needs at least one generator")
        self.generators = list(generators)
        p = np.asarray(probs if probs is not None else [1.0] * len(generators), dtype=np.float64)
        if len(p) != len(self.generators) or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"probs {list(p)} do not fit {len(self.generators)} generators")
        self.probs = p / p.sum()

    def __call__(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        return self.generators[int(rng.choice(len(self.generators), p=self.probs))](rng, height, width)


class BucketMasks:
    """Masks whose hole ratio lies in [lo, hi], made of free-form strokes and boxes.

    `ratio="lowest"` (the 0.2-wide buckets of MMInvertFill's tables): hole parts are added until the ratio
    reaches lo (and at least one is drawn, so lo = 0 still gives a hole); a draw that overshoots hi is
    rejected and restarted. Such masks sit near lo. For lo > 0 the first part is always drawn anyway, so what a
    seed draws there is unchanged from MASKS_VERSION 1 (the committed evaluation sets stay valid).

    `ratio="uniform"` (wide buckets such as the diverse-inpainting paper's 0–0.4 / 0.4–1 / 0–1): a target t is
    drawn uniformly in [lo, hi] first. For t <= 1/2 hole parts are added until the ratio reaches t; for t > 1/2
    the *known* region is built from parts instead, until the known fraction reaches 1 − t (so large holes cost
    as few parts as small ones, and some context is always left). Draws outside [lo, hi] (or hole-free) are
    rejected and restarted. Masks then spread over the whole bucket, but not evenly: the last part overshoots
    the target, so ratios bunch up (0.4–0.6: 75 % of masks in 0.45–0.55).

    `ratio="spread"` (the evaluation sets since December 2026): as "uniform", and a draw is kept only when its
    ratio lies within `tolerance` of its target t (default a tenth of the bucket's width, at least 0.01). The
    ratios then follow t, close to uniform over [lo, hi]: the median sits near the bucket's centre and the
    largest masks near its top.
    """

    RATIOS = ("lowest", "uniform", "spread")

    def __init__(self, lo: float, hi: float, max_tries: int = 1000, ratio: str = "lowest",
                 tolerance: float | None = None) -> None:
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"bucket must satisfy 0 <= lo < hi <= 1, got [{lo}, {hi}]")
        if ratio not in self.RATIOS:
            raise ValueError(f"ratio must be one of {self.RATIOS}, got {ratio!r}")
        self.lo, self.hi, self.max_tries, self.ratio = lo, hi, max_tries, ratio
        self.tolerance = max(0.01, (hi - lo) / 10) if tolerance is None else float(tolerance)
        self.parts = MixedMasks([FreeFormMasks(strokes=(1, 2)), BoxMasks(count=(1, 1), size=(0.1, 0.4))], [0.7, 0.3])

    def __call__(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        for _ in range(self.max_tries):
            if self.ratio == "lowest":
                mask, t = self._lowest(rng, height, width), None
            else:
                t = float(rng.uniform(self.lo, self.hi))
                mask = self._towards(t, rng, height, width)
            r = hole_ratio(mask)
            if 0 < r and self.lo <= r <= self.hi and (self.ratio != "spread" or abs(r - t) <= self.tolerance):
                return mask
        raise RuntimeError(f"no mask with hole ratio in [{self.lo}, {self.hi}] after {self.max_tries} tries "
                           f"at {height}x{width}")

    def _lowest(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        mask = np.ones((height, width), np.float32)
        while hole_ratio(mask) < self.lo or hole_ratio(mask) == 0:
            mask = np.minimum(mask, self.parts(rng, height, width))
        return mask

    def _towards(self, t: float, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """Parts drawn until the hole ratio reaches t (t <= 1/2), or the known fraction reaches 1 − t."""
        region = np.ones((height, width), np.float32)  # 0 = covered by the parts drawn so far
        covered = min(t, 1 - t)  # the parts make the hole (t <= 1/2) or the known region (t > 1/2)
        while 1 - region.mean() < covered or region.mean() == 1:
            region = np.minimum(region, self.parts(rng, height, width))
        return region if t <= 0.5 else 1 - region


class ModalityMasks:
    """Masks of the auxiliary modalities (segmentation, edges). `pair` withholds both at once (standard
    inpainting: image and mask only) with probability `p_withhold_both`; otherwise, and for each single call,
    a modality is withheld (all-zero) with probability `p_withhold`, given in full (all-one, user guidance)
    with `p_full`, otherwise tied to the image mask (`tied=True`) or drawn independently from `generator`."""

    def __init__(self, p_withhold: float = 0.0, p_full: float = 0.0, tied: bool = True,
                 generator: MaskGenerator | None = None, p_withhold_both: float = 0.0) -> None:
        if p_withhold < 0 or p_full < 0 or p_withhold + p_full > 1:
            raise ValueError(f"p_withhold={p_withhold} and p_full={p_full} must be probabilities summing to <= 1")
        if not 0 <= p_withhold_both <= 1:
            raise ValueError(f"p_withhold_both={p_withhold_both} must be a probability")
        if not tied and generator is None:
            raise ValueError("independent modality masks (tied=false) need a generator")
        self.p_withhold, self.p_full, self.tied, self.generator = p_withhold, p_full, tied, generator
        self.p_withhold_both = float(p_withhold_both)

    def pair(self, rng: np.random.Generator, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M_seg, M_edge) for one sample. With p_withhold_both = 0 it draws exactly what two calls draw."""
        if self.p_withhold_both > 0 and rng.uniform() < self.p_withhold_both:
            return np.zeros_like(mask), np.zeros_like(mask)
        return self(rng, mask), self(rng, mask)

    def __call__(self, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        u = rng.uniform()
        if u < self.p_withhold:
            return np.zeros_like(mask)
        if u < self.p_withhold + self.p_full:
            return np.ones_like(mask)
        return mask.copy() if self.tied else self.generator(rng, *mask.shape)
