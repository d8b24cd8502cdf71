"""Procedural outdoor scenes with an exact per-pixel class map (the built-in, offline data set).

A scene is a layout (drawn from ``SeedSequence([seed, index])``, independent of the resolution) painted
back-to-front at ``supersample × resolution``: sky gradient (day / sunset / dusk / night), sun or moon,
clouds, 0–3 mountain ranges, a lake, grass or bare ground with an optional path, buildings with window
grids, deciduous and conifer trees. Labels are written by the same boolean masks that paint the colours,
so they are exact at the supersampled resolution; the image is then area-downsampled (anti-aliased) and
the label map nearest-downsampled (pixel centres).
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

__all__ = ["SCENE_CLASSES", "SCENES_VERSION", "render_scene", "ScenesSource"]

# Bump when the renderer changes what a given (seed, index) looks like (invalidates disk caches).
SCENES_VERSION = 1

SCENE_CLASSES: tuple[str, ...] = (
    "sky",  # 0
    "cloud",  # 1
    "sun_moon",  # 2
    "mountain",  # 3
    "water",  # 4
    "grass",  # 5
    "ground",  # 6  bare soil, sand, paths
    "building",  # 7
    "window",  # 8
    "tree",  # 9  foliage
    "trunk",  # 10
)
SKY, CLOUD, SUN, MOUNTAIN, WATER, GRASS, GROUND, BUILDING, WINDOW, TREE, TRUNK = range(len(SCENE_CLASSES))

# Time of day: (weight, sky top RGB, sky horizon RGB, light multiplier RGB)
_TIMES = {
    "day": (0.45, (45, 110, 205), (175, 205, 235), (1.0, 1.0, 1.0)),
    "sunset": (0.2, (70, 60, 135), (250, 150, 80), (0.85, 0.68, 0.55)),
    "dusk": (0.15, (95, 120, 185), (240, 190, 175), (0.8, 0.78, 0.85)),
    "night": (0.2, (6, 10, 30), (35, 45, 90), (0.3, 0.34, 0.48)),
}


class _Canvas:
    """Image (S,S,3) float32 in [0,255] and labels (S,S) uint8, painted back to front."""

    def __init__(self, size: int) -> None:
        self.S = size
        self.img = np.zeros((size, size, 3), np.float32)
        self.lab = np.zeros((size, size), np.uint8)
        c = (np.arange(size, dtype=np.float32) + 0.5) / size
        self.ys = c[:, None]  # (S,1) normalised pixel centres, 0 = top
        self.xs = c[None, :]  # (1,S)

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice] | None:
        """Pixel slices covering the normalised box, or None when empty."""
        S = self.S
        r0, r1 = max(int(np.floor(y0 * S)), 0), min(int(np.ceil(y1 * S)), S)
        c0, c1 = max(int(np.floor(x0 * S)), 0), min(int(np.ceil(x1 * S)), S)
        if r1 <= r0 or c1 <= c0:
            return None
        return slice(r0, r1), slice(c0, c1)

    def paint(self, sl: tuple[slice, slice], mask: np.ndarray, rgb: np.ndarray, cls: int) -> None:
        """Paint ``rgb`` (broadcastable to (h,w,3)) where ``mask`` (h,w) is true inside ``sl``."""
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        rgb = np.broadcast_to(np.asarray(rgb, np.float32), (h, w, 3))
        img, lab = self.img[sl], self.lab[sl]
        img[mask] = rgb[mask]
        lab[mask] = cls


def _value_noise_1d(rng: np.random.Generator, xs: np.ndarray, octaves: int = 5, base: int = 3) -> np.ndarray:
    """Fractal 1-D value noise in roughly [-1, 1] sampled at ``xs`` (normalised)."""
    out = np.zeros_like(xs, dtype=np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        k = base * 2**o
        knots = rng.uniform(-1, 1, k + 1).astype(np.float32)
        out += amp * np.interp(xs, np.linspace(0, 1, k + 1), knots).astype(np.float32)
        total += amp
        amp *= 0.5
    return out / total


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency 2-D noise (size,size) in about [-1,1]; drawn at ``cells`` so it is resolution-free."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC) * 0.6


def _jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb, np.float32) + rng.uniform(-amount, amount, 3), 0, 255).astype(np.float32)


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
    S = resolution * supersample
    cv = _Canvas(S)
    ys, xs = cv.ys, cv.xs
    grain = trng.standard_normal((S, S)).astype(np.float32)  # shared per-pixel grain, sliced per layer
    field = _smooth_field(rng, S, 6)  # shared low-frequency variation

    names = list(_TIMES)
    w = np.array([_TIMES[n][0] for n in names])
    tod = names[rng.choice(len(names), p=w / w.sum())]
    _, top, hor, light = _TIMES[tod]
    top, hor = _jitter(rng, top, 18), _jitter(rng, hor, 18)
    light = np.asarray(light, np.float32) * rng.uniform(0.9, 1.05)
    night = tod == "night"
    horizon = rng.uniform(0.38, 0.68)

    # --- sky: vertical gradient (+ faint stars at night)
    t = np.clip(ys / horizon, 0, 1) ** rng.uniform(0.7, 1.6)
    sky = top * (1 - t[..., None]) + hor * t[..., None]
    cv.img[:] = sky + 2.0 * grain[..., None]
    cv.lab[:] = SKY
    if night:
        stars = (trng.random((S, S)) < 0.004) & (ys < horizon)
        cv.img[stars] = 200 + 55 * trng.random((int(stars.sum()), 1))

    # --- sun or moon (+ glow on the sky pixels)
    if rng.random() < 0.75:
        r = rng.uniform(0.035, 0.08) * (1.4 if tod == "sunset" else 1.0)
        cx = rng.uniform(0.1, 0.9)
        cy = rng.uniform(horizon - 0.2, horizon - 0.05) if tod == "sunset" else rng.uniform(0.08, max(0.1, horizon - 0.15))
        col = {"day": (255, 250, 225), "sunset": (255, 190, 90), "dusk": (255, 230, 200), "night": (225, 228, 240)}[tod]
        d2 = (xs - cx) ** 2 + (ys - cy) ** 2
        glow = np.exp(-d2 / (2 * (3 * r) ** 2))[..., None] * (0.35 if night else 0.5)
        cv.img[:] = cv.img * (1 - glow) + np.asarray(col, np.float32) * glow
        sl = cv.box(cx - r, cy - r, cx + r, cy + r)
        if sl is not None:
            m = d2[sl] < r * r
            shade = 1 - 0.12 * (((xs[:, sl[1]] - cx) ** 2 + (ys[sl[0]] - cy) ** 2) / (r * r))[..., None]
            cv.paint(sl, m, np.asarray(col, np.float32) * shade, SUN)

    # --- clouds: unions of ellipses along a line, darker underneath
    n_clouds = rng.integers(0, 5) if rng.random() < (0.5 if night else 0.8) else 0
    cloud_col = {"day": (245, 245, 250), "sunset": (240, 160, 140), "dusk": (230, 205, 215), "night": (60, 65, 85)}[tod]
    for _ in range(n_clouds):
        cx, cy = rng.uniform(-0.05, 1.05), rng.uniform(0.05, max(0.08, horizon - 0.12))
        width, height = rng.uniform(0.12, 0.35), rng.uniform(0.035, 0.07)
        col = _jitter(rng, cloud_col, 12)
        blobs = [(cx + rng.uniform(-0.5, 0.5) * width, cy + rng.uniform(-0.3, 0.2) * height,
                  rng.uniform(0.25, 0.45) * width, rng.uniform(0.6, 1.0) * height) for _ in range(rng.integers(3, 7))]
        sl = cv.box(cx - width, cy - 2 * height, cx + width, cy + 2 * height)
        if sl is None:
            continue
        yy, xx = ys[sl[0]], xs[:, sl[1]]
        m = np.zeros((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), bool)
        for bx, by, rx, ry in blobs:
            m |= ((xx - bx) / rx) ** 2 + ((yy - by) / ry) ** 2 < 1
        shade = 1 - 0.25 * np.clip((yy - cy) / height, -1, 1)[..., None] - 0.04 * grain[sl][..., None]
        cv.paint(sl, m, col * shade, CLOUD)

    # --- mountain ranges, far (hazy) to near (dark)
    n_ranges = rng.integers(1, 4) if rng.random() < 0.8 else 0
    xcol = xs[0]
    for k in range(n_ranges):
        far = (n_ranges - 1 - k) / max(n_ranges, 1)  # 1 = farthest
        peak = rng.uniform(0.1, 0.32) * (1 - 0.3 * far)
        ridge = horizon - 0.02 - peak * (0.55 + 0.45 * _value_noise_1d(rng, xcol, octaves=6, base=rng.integers(2, 5)))
        base_col = _jitter(rng, rng.choice([(95, 100, 110), (110, 95, 80), (85, 105, 85), (120, 115, 125)]), 18)
        col = base_col * (1 - 0.6 * far) + hor * 0.6 * far
        slope = np.gradient(ridge) * S
        side = np.clip(0.5 - 2.5 * slope, 0.2, 1.2)[None, :, None]  # lit flank vs shadow flank
        m = ys >= ridge[None, :]
        depth = np.clip((ys - ridge[None, :]) / max(peak, 1e-3), 0, 1)[..., None]
        rgb = col * (0.75 + 0.35 * side) * (1 - 0.25 * depth) + 5 * grain[..., None] + 10 * field[..., None]
        if peak > 0.18 and rng.random() < 0.6:  # snow caps near the highest peaks
            snowline = ridge.min() + rng.uniform(0.04, 0.08)
            snow = (ys < snowline) & (ys < ridge[None, :] + 0.05)
            rgb = np.where(snow[..., None], np.asarray((235, 238, 245), np.float32) * (0.8 + 0.2 * side), rgb)
        cv.paint((slice(0, S), slice(0, S)), m, rgb, MOUNTAIN)

    # --- lake between the horizon and the shore
    water = rng.random() < 0.5
    land_top = horizon
    if water:
        land_top = horizon + rng.uniform(0.1, 0.3)
        m = ys >= horizon
        ripple = _value_noise_1d(rng, np.linspace(0, 1, S, dtype=np.float32), octaves=4, base=20)
        wcol = _jitter(rng, (40, 85, 130), 20) * 0.5 + hor * 0.5
        dy = np.clip((ys - horizon) / 0.3, 0, 1)[..., None]
        rgb = wcol * (0.95 - 0.35 * dy) + 14 * ripple[:, None, None] * (0.4 + dy) + 3 * grain[..., None]
        cv.paint((slice(0, S), slice(0, S)), np.broadcast_to(m, (S, S)), rgb, WATER)

    # --- land: grass or bare ground, with an optional dirt path or sand shore
    shore = land_top + 0.03 * _value_noise_1d(rng, xcol, octaves=4, base=3)
    grassy = rng.random() < 0.75
    land_m = ys >= shore[None, :]
    if grassy:
        gcol = _jitter(rng, rng.choice([(70, 135, 55), (95, 150, 60), (60, 110, 50), (130, 150, 70)]), 15)
    else:
        gcol = _jitter(rng, rng.choice([(165, 140, 100), (140, 110, 80), (190, 170, 130)]), 15)
    dist = np.clip((ys - shore[None, :]) / 0.4, 0, 1)[..., None]
    rgb = gcol * (0.8 + 0.35 * dist) + (9 if grassy else 6) * grain[..., None] + 14 * field[..., None]
    cv.paint((slice(0, S), slice(0, S)), land_m, rgb, GRASS if grassy else GROUND)
    if water and rng.random() < 0.6:  # sand shore strip
        width = rng.uniform(0.02, 0.06)
        m = land_m & (ys < shore[None, :] + width)
        scol = _jitter(rng, (200, 185, 140), 15)
        cv.paint((slice(0, S), slice(0, S)), m, scol + 6 * grain[..., None], GROUND)
    elif grassy and rng.random() < 0.5:  # path from the bottom towards the horizon
        x_far, x_near = rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.9)
        w_far, w_near = rng.uniform(0.01, 0.03), rng.uniform(0.12, 0.3)
        tt = np.clip((ys - land_top) / max(1 - land_top, 1e-3), 0, 1)
        cx = x_far + (x_near - x_far) * tt + 0.04 * np.sin(tt * rng.uniform(3, 8) + rng.uniform(0, 6))
        half = (w_far + (w_near - w_far) * tt) / 2
        m = land_m & (np.abs(xs - cx) < half)
        pcol = _jitter(rng, (160, 130, 95), 15)
        cv.paint((slice(0, S), slice(0, S)), m, pcol + 8 * grain[..., None], GROUND)

    def ground_y(x: float) -> float:
        return float(np.interp(x, xcol, shore))

    # --- buildings with window grids, standing on the shore line
    objects: list[tuple[float, str, dict]] = []
    if rng.random() < 0.55:
        for _ in range(rng.integers(1, 7)):
            x0 = rng.uniform(-0.05, 0.95)
            bw = rng.uniform(0.08, 0.22)
            base = ground_y(min(max(x0 + bw / 2, 0), 1)) + rng.uniform(0.0, 0.12)
            objects.append((base, "building", dict(x0=x0, bw=bw, base=base, bh=rng.uniform(0.12, 0.42) * (0.6 + base))))
    if rng.random() < 0.75:
        for _ in range(rng.integers(1, 9)):
            x = rng.uniform(0.0, 1.0)
            base = ground_y(x) + rng.uniform(0.0, 0.35)
            objects.append((base, "tree", dict(x=x, base=min(base, 1.02))))
    objects.sort(key=lambda o: o[0])  # far (higher on screen) first

    for _, kind, p in objects:
        if kind == "building":
            x0, bw, base, bh = p["x0"], p["bw"], p["base"], p["bh"]
            y0 = base - bh
            bcol = _jitter(rng, rng.choice([(150, 150, 155), (170, 100, 80), (205, 190, 160), (110, 115, 130), (225, 225, 220)]), 15)
            sl = cv.box(x0, y0, x0 + bw, base)
            roof = rng.random() < 0.4 and bh < 0.3
            if sl is not None:
                shade = 0.85 + 0.2 * ((xs[:, sl[1]] - x0) / bw < 0.3)  # lit left face
                rgb = bcol * shade[..., None] * light + 3 * grain[sl][..., None]
                cv.paint(sl, np.ones(rgb.shape[:2], bool), rgb, BUILDING)
            if roof:  # triangular roof, still 'building'
                rh = rng.uniform(0.04, 0.1)
                rs = cv.box(x0 - 0.01, y0 - rh, x0 + bw + 0.01, y0)
                if rs is not None:
                    yy, xx = ys[rs[0]], xs[:, rs[1]]
                    m = (y0 - yy) < rh * (1 - np.abs(xx - (x0 + bw / 2)) / (bw / 2 + 0.01))
                    rcol = _jitter(rng, (120, 55, 45), 20) * light
                    cv.paint(rs, m, rcol, BUILDING)
            # windows: a regular grid, lit at night, sky-reflecting by day
            ww = rng.uniform(0.025, 0.045)
            wh = ww * rng.uniform(1.0, 1.6)
            cols = max(int((bw - 0.02) // (ww * 1.8)), 1)
            rows = max(int((bh - 0.04) // (wh * 1.7)), 1)
            gx = (bw - cols * ww) / (cols + 1)
            gy = (bh - 0.02 - rows * wh) / (rows + 1)
            for i in range(rows):
                for j in range(cols):
                    if rng.random() < 0.12:
                        continue  # a missing window now and then
                    wx, wy = x0 + gx + j * (ww + gx), y0 + gy + i * (wh + gy)
                    ws = cv.box(wx, wy, wx + ww, wy + wh)
                    if ws is None:
                        continue
                    lit = night and rng.random() < 0.7
                    wc = (np.asarray((255, 215, 120), np.float32) * rng.uniform(0.8, 1.0) if lit
                          else _jitter(rng, (60, 80, 105), 15) * light + 0.3 * hor)
                    cv.paint(ws, np.ones((ws[0].stop - ws[0].start, ws[1].stop - ws[1].start), bool), wc, WINDOW)
        else:
            x, base = p["x"], p["base"]
            scale = 0.5 + 1.2 * np.clip(base - horizon, 0, 1)  # nearer = lower on screen = bigger
            th, tw = rng.uniform(0.04, 0.08) * scale, rng.uniform(0.012, 0.022) * scale
            tcol = _jitter(rng, (90, 60, 40), 12) * light
            sl = cv.box(x - tw / 2, base - th, x + tw / 2, base)
            if sl is not None:
                cv.paint(sl, np.ones((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), bool),
                         tcol + 4 * grain[sl][..., None], TRUNK)
            autumn = rng.random() < 0.15
            fcol = _jitter(rng, (200, 120, 40) if autumn else rng.choice([(50, 110, 45), (35, 90, 50), (75, 125, 45)]), 15)
            fcol = fcol * light
            if rng.random() < 0.35:  # conifer: stacked triangle
                h, w = rng.uniform(0.12, 0.22) * scale, rng.uniform(0.05, 0.08) * scale
                ytop = base - th * 0.6 - h
                fs = cv.box(x - w, ytop, x + w, base - th * 0.6)
                if fs is None:
                    continue
                yy, xx = ys[fs[0]], xs[:, fs[1]]
                m = np.abs(xx - x) < w * np.clip((yy - ytop) / h, 0, 1)
            else:  # deciduous: a few overlapping discs
                r = rng.uniform(0.035, 0.06) * scale
                cy = base - th - r * 0.6
                fs = cv.box(x - 2.2 * r, cy - 2.2 * r, x + 2.2 * r, cy + 1.5 * r)
                if fs is None:
                    continue
                yy, xx = ys[fs[0]], xs[:, fs[1]]
                m = (xx - x) ** 2 + (yy - cy) ** 2 < r * r
                for _ in range(rng.integers(2, 5)):
                    bx, by, br = x + rng.uniform(-1, 1) * r, cy + rng.uniform(-1, 0.4) * r, r * rng.uniform(0.55, 0.85)
                    m |= (xx - bx) ** 2 + (yy - by) ** 2 < br * br
            yy, xx = ys[fs[0]], xs[:, fs[1]]
            shade = 1.0 + 0.25 * np.clip((x - xx) / 0.05, -1, 1) - 0.2 * np.clip((yy - (base - th)) / 0.1, -1, 1)
            rgb = fcol * shade[..., None] + 14 * grain[fs][..., None]
            cv.paint(fs, m, rgb, TREE)

    # global light for the landscape layers (sky, sun and lit windows keep their own brightness)
    scene = ~np.isin(cv.lab, (SKY, SUN, CLOUD, WINDOW, BUILDING, TREE, TRUNK))
    cv.img[scene] *= light
    img = np.clip(cv.img, 0, 255)
    if supersample > 1:
        img = cv2.resize(img, (resolution, resolution), interpolation=cv2.INTER_AREA)
        lab = cv.lab[supersample // 2 :: supersample, supersample // 2 :: supersample]
    else:
        lab = cv.lab
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
            tmp = self._dir / f".{g:08d}.{os.getpid()}.npz"
            np.savez(tmp, image=img, labels=lab)
            os.replace(tmp, f)  # atomic: concurrent workers never read a half-written file
        return img, lab, None


def _digest(img: np.ndarray) -> str:  # handy when debugging determinism
    return hashlib.sha1(img.tobytes()).hexdigest()[:12]
