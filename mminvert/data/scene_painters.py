"""The painters of the procedural scenes, back to front: sky, sun/moon, clouds, mountains, lake, land, buildings,
trees, and the global light. `render_scene` (scenes.py) calls them in this order.

Each painter draws from the scene's layout stream ``rng`` (resolution-free draws) and texture stream ``trng`` in a
fixed order: changing the order or the number of draws changes every scene after it, and with it the data the
bundled generator was trained on (bump ``SCENES_VERSION`` if you must).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

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
TIMES = {
    "day": (0.45, (45, 110, 205), (175, 205, 235), (1.0, 1.0, 1.0)),
    "sunset": (0.2, (70, 60, 135), (250, 150, 80), (0.85, 0.68, 0.55)),
    "dusk": (0.15, (95, 120, 185), (240, 190, 175), (0.8, 0.78, 0.85)),
    "night": (0.2, (6, 10, 30), (35, 45, 90), (0.3, 0.34, 0.48)),
}


class Canvas:
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

    @property
    def whole(self) -> tuple[slice, slice]:
        return slice(0, self.S), slice(0, self.S)

    def paint(self, sl: tuple[slice, slice], mask: np.ndarray, rgb: np.ndarray, cls: int) -> None:
        """Paint ``rgb`` (broadcastable to (h,w,3)) where ``mask`` (h,w) is true inside ``sl``."""
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        rgb = np.broadcast_to(np.asarray(rgb, np.float32), (h, w, 3))
        img, lab = self.img[sl], self.lab[sl]
        img[mask] = rgb[mask]
        lab[mask] = cls

    def fill(self, sl: tuple[slice, slice], rgb: np.ndarray, cls: int) -> None:
        """Paint the whole box ``sl``."""
        self.paint(sl, np.ones((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), bool), rgb, cls)


def value_noise_1d(rng: np.random.Generator, xs: np.ndarray, octaves: int = 5, base: int = 3) -> np.ndarray:
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


def smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency 2-D noise (size,size) in about [-1,1]; drawn at ``cells`` so it is resolution-free."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC) * 0.6


def jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb, np.float32) + rng.uniform(-amount, amount, 3), 0, 255).astype(np.float32)


@dataclass
class Scene:
    """What the painters share: the canvas, the two random streams and the layout decided so far."""

    cv: Canvas
    rng: np.random.Generator   # layout stream
    trng: np.random.Generator  # per-pixel texture stream
    grain: np.ndarray          # (S,S) per-pixel grain, sliced per layer
    field: np.ndarray          # (S,S) low-frequency variation
    tod: str                   # time of day, a key of TIMES
    top: np.ndarray            # sky colour at the top (3,)
    hor: np.ndarray            # sky colour at the horizon (3,)
    light: np.ndarray          # light multiplier (3,)
    horizon: float             # normalised y of the horizon
    land_top: float = 0.0      # normalised y where land starts (below the lake, if any)
    shore: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (S,) land line per column
    water: bool = False

    @property
    def night(self) -> bool:
        return self.tod == "night"

    @property
    def xcol(self) -> np.ndarray:
        return self.cv.xs[0]

    def ground_y(self, x: float) -> float:
        return float(np.interp(x, self.xcol, self.shore))


def start_scene(rng: np.random.Generator, trng: np.random.Generator, S: int) -> Scene:
    """Canvas, shared noise, time of day, sky colours, light and horizon."""
    cv = Canvas(S)
    grain = trng.standard_normal((S, S)).astype(np.float32)
    fld = smooth_field(rng, S, 6)
    names = list(TIMES)
    w = np.array([TIMES[n][0] for n in names])
    tod = names[rng.choice(len(names), p=w / w.sum())]
    _, top, hor, light = TIMES[tod]
    top, hor = jitter(rng, top, 18), jitter(rng, hor, 18)
    light = np.asarray(light, np.float32) * rng.uniform(0.9, 1.05)
    horizon = rng.uniform(0.38, 0.68)
    return Scene(cv, rng, trng, grain, fld, tod, top, hor, light, horizon)


def paint_sky(s: Scene) -> None:
    """Vertical gradient, plus faint stars at night."""
    cv, ys = s.cv, s.cv.ys
    t = np.clip(ys / s.horizon, 0, 1) ** s.rng.uniform(0.7, 1.6)
    sky = s.top * (1 - t[..., None]) + s.hor * t[..., None]
    cv.img[:] = sky + 2.0 * s.grain[..., None]
    cv.lab[:] = SKY
    if s.night:
        stars = (s.trng.random((cv.S, cv.S)) < 0.004) & (ys < s.horizon)
        cv.img[stars] = 200 + 55 * s.trng.random((int(stars.sum()), 1))


def paint_sun(s: Scene) -> None:
    """Sun or moon, with a glow on the sky."""
    rng, cv, ys, xs = s.rng, s.cv, s.cv.ys, s.cv.xs
    if rng.random() >= 0.75:
        return
    r = rng.uniform(0.035, 0.08) * (1.4 if s.tod == "sunset" else 1.0)
    cx = rng.uniform(0.1, 0.9)
    cy = (rng.uniform(s.horizon - 0.2, s.horizon - 0.05) if s.tod == "sunset"
          else rng.uniform(0.08, max(0.1, s.horizon - 0.15)))
    col = {"day": (255, 250, 225), "sunset": (255, 190, 90), "dusk": (255, 230, 200), "night": (225, 228, 240)}[s.tod]
    d2 = (xs - cx) ** 2 + (ys - cy) ** 2
    glow = np.exp(-d2 / (2 * (3 * r) ** 2))[..., None] * (0.35 if s.night else 0.5)
    cv.img[:] = cv.img * (1 - glow) + np.asarray(col, np.float32) * glow
    sl = cv.box(cx - r, cy - r, cx + r, cy + r)
    if sl is not None:
        m = d2[sl] < r * r
        shade = 1 - 0.12 * (((xs[:, sl[1]] - cx) ** 2 + (ys[sl[0]] - cy) ** 2) / (r * r))[..., None]
        cv.paint(sl, m, np.asarray(col, np.float32) * shade, SUN)


def paint_clouds(s: Scene) -> None:
    """Unions of ellipses along a line, darker underneath."""
    rng, cv, ys, xs = s.rng, s.cv, s.cv.ys, s.cv.xs
    n_clouds = rng.integers(0, 5) if rng.random() < (0.5 if s.night else 0.8) else 0
    cloud_col = {"day": (245, 245, 250), "sunset": (240, 160, 140), "dusk": (230, 205, 215), "night": (60, 65, 85)}[s.tod]
    for _ in range(n_clouds):
        cx, cy = rng.uniform(-0.05, 1.05), rng.uniform(0.05, max(0.08, s.horizon - 0.12))
        width, height = rng.uniform(0.12, 0.35), rng.uniform(0.035, 0.07)
        col = jitter(rng, cloud_col, 12)
        blobs = [(cx + rng.uniform(-0.5, 0.5) * width, cy + rng.uniform(-0.3, 0.2) * height,
                  rng.uniform(0.25, 0.45) * width, rng.uniform(0.6, 1.0) * height) for _ in range(rng.integers(3, 7))]
        sl = cv.box(cx - width, cy - 2 * height, cx + width, cy + 2 * height)
        if sl is None:
            continue
        yy, xx = ys[sl[0]], xs[:, sl[1]]
        m = np.zeros((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), bool)
        for bx, by, rx, ry in blobs:
            m |= ((xx - bx) / rx) ** 2 + ((yy - by) / ry) ** 2 < 1
        shade = 1 - 0.25 * np.clip((yy - cy) / height, -1, 1)[..., None] - 0.04 * s.grain[sl][..., None]
        cv.paint(sl, m, col * shade, CLOUD)


def paint_mountains(s: Scene) -> None:
    """0–3 ranges, far (hazy) to near (dark), with snow caps near the highest peaks."""
    rng, cv, ys, S = s.rng, s.cv, s.cv.ys, s.cv.S
    n_ranges = rng.integers(1, 4) if rng.random() < 0.8 else 0
    for k in range(n_ranges):
        far = (n_ranges - 1 - k) / max(n_ranges, 1)  # 1 = farthest
        peak = rng.uniform(0.1, 0.32) * (1 - 0.3 * far)
        ridge = s.horizon - 0.02 - peak * (0.55 + 0.45 * value_noise_1d(rng, s.xcol, octaves=6, base=rng.integers(2, 5)))
        base_col = jitter(rng, rng.choice([(95, 100, 110), (110, 95, 80), (85, 105, 85), (120, 115, 125)]), 18)
        col = base_col * (1 - 0.6 * far) + s.hor * 0.6 * far
        slope = np.gradient(ridge) * S
        side = np.clip(0.5 - 2.5 * slope, 0.2, 1.2)[None, :, None]  # lit flank vs shadow flank
        m = ys >= ridge[None, :]
        depth = np.clip((ys - ridge[None, :]) / max(peak, 1e-3), 0, 1)[..., None]
        rgb = col * (0.75 + 0.35 * side) * (1 - 0.25 * depth) + 5 * s.grain[..., None] + 10 * s.field[..., None]
        if peak > 0.18 and rng.random() < 0.6:
            snowline = ridge.min() + rng.uniform(0.04, 0.08)
            snow = (ys < snowline) & (ys < ridge[None, :] + 0.05)
            rgb = np.where(snow[..., None], np.asarray((235, 238, 245), np.float32) * (0.8 + 0.2 * side), rgb)
        cv.paint(cv.whole, m, rgb, MOUNTAIN)


def paint_lake(s: Scene) -> None:
    """A lake between the horizon and the shore (half of the scenes); sets ``land_top`` and ``water``."""
    rng, cv, ys, S = s.rng, s.cv, s.cv.ys, s.cv.S
    s.water = bool(rng.random() < 0.5)
    s.land_top = s.horizon
    if not s.water:
        return
    s.land_top = s.horizon + rng.uniform(0.1, 0.3)
    m = ys >= s.horizon
    ripple = value_noise_1d(rng, np.linspace(0, 1, S, dtype=np.float32), octaves=4, base=20)
    wcol = jitter(rng, (40, 85, 130), 20) * 0.5 + s.hor * 0.5
    dy = np.clip((ys - s.horizon) / 0.3, 0, 1)[..., None]
    rgb = wcol * (0.95 - 0.35 * dy) + 14 * ripple[:, None, None] * (0.4 + dy) + 3 * s.grain[..., None]
    cv.paint(cv.whole, np.broadcast_to(m, (S, S)), rgb, WATER)


def paint_land(s: Scene) -> None:
    """Grass or bare ground below the shore line, with a sand shore strip or a dirt path; sets ``shore``."""
    rng, cv, ys, xs = s.rng, s.cv, s.cv.ys, s.cv.xs
    s.shore = s.land_top + 0.03 * value_noise_1d(rng, s.xcol, octaves=4, base=3)
    grassy = rng.random() < 0.75
    land_m = ys >= s.shore[None, :]
    if grassy:
        gcol = jitter(rng, rng.choice([(70, 135, 55), (95, 150, 60), (60, 110, 50), (130, 150, 70)]), 15)
    else:
        gcol = jitter(rng, rng.choice([(165, 140, 100), (140, 110, 80), (190, 170, 130)]), 15)
    dist = np.clip((ys - s.shore[None, :]) / 0.4, 0, 1)[..., None]
    rgb = gcol * (0.8 + 0.35 * dist) + (9 if grassy else 6) * s.grain[..., None] + 14 * s.field[..., None]
    cv.paint(cv.whole, land_m, rgb, GRASS if grassy else GROUND)
    if s.water and rng.random() < 0.6:  # sand shore strip
        width = rng.uniform(0.02, 0.06)
        m = land_m & (ys < s.shore[None, :] + width)
        scol = jitter(rng, (200, 185, 140), 15)
        cv.paint(cv.whole, m, scol + 6 * s.grain[..., None], GROUND)
    elif grassy and rng.random() < 0.5:  # path from the bottom towards the horizon
        x_far, x_near = rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.9)
        w_far, w_near = rng.uniform(0.01, 0.03), rng.uniform(0.12, 0.3)
        tt = np.clip((ys - s.land_top) / max(1 - s.land_top, 1e-3), 0, 1)
        cx = x_far + (x_near - x_far) * tt + 0.04 * np.sin(tt * rng.uniform(3, 8) + rng.uniform(0, 6))
        half = (w_far + (w_near - w_far) * tt) / 2
        m = land_m & (np.abs(xs - cx) < half)
        pcol = jitter(rng, (160, 130, 95), 15)
        cv.paint(cv.whole, m, pcol + 8 * s.grain[..., None], GROUND)


def place_objects(s: Scene) -> list[tuple[float, str, dict]]:
    """Buildings and trees standing on the land, sorted far (higher on screen) to near."""
    rng = s.rng
    objects: list[tuple[float, str, dict]] = []
    if rng.random() < 0.55:
        for _ in range(rng.integers(1, 7)):
            x0 = rng.uniform(-0.05, 0.95)
            bw = rng.uniform(0.08, 0.22)
            base = s.ground_y(min(max(x0 + bw / 2, 0), 1)) + rng.uniform(0.0, 0.12)
            objects.append((base, "building", dict(x0=x0, bw=bw, base=base, bh=rng.uniform(0.12, 0.42) * (0.6 + base))))
    if rng.random() < 0.75:
        for _ in range(rng.integers(1, 9)):
            x = rng.uniform(0.0, 1.0)
            base = s.ground_y(x) + rng.uniform(0.0, 0.35)
            objects.append((base, "tree", dict(x=x, base=min(base, 1.02))))
    objects.sort(key=lambda o: o[0])
    return objects


def paint_building(s: Scene, x0: float, bw: float, base: float, bh: float) -> None:
    """A lit block, an optional triangular roof and a grid of windows (lit at night, reflecting by day)."""
    rng, cv, ys, xs, light = s.rng, s.cv, s.cv.ys, s.cv.xs, s.light
    y0 = base - bh
    bcol = jitter(rng, rng.choice([(150, 150, 155), (170, 100, 80), (205, 190, 160), (110, 115, 130), (225, 225, 220)]), 15)
    sl = cv.box(x0, y0, x0 + bw, base)
    roof = rng.random() < 0.4 and bh < 0.3
    if sl is not None:
        shade = 0.85 + 0.2 * ((xs[:, sl[1]] - x0) / bw < 0.3)  # lit left face
        cv.fill(sl, bcol * shade[..., None] * light + 3 * s.grain[sl][..., None], BUILDING)
    if roof:  # still 'building'
        rh = rng.uniform(0.04, 0.1)
        rs = cv.box(x0 - 0.01, y0 - rh, x0 + bw + 0.01, y0)
        if rs is not None:
            yy, xx = ys[rs[0]], xs[:, rs[1]]
            m = (y0 - yy) < rh * (1 - np.abs(xx - (x0 + bw / 2)) / (bw / 2 + 0.01))
            cv.paint(rs, m, jitter(rng, (120, 55, 45), 20) * light, BUILDING)
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
            lit = s.night and rng.random() < 0.7
            wc = (np.asarray((255, 215, 120), np.float32) * rng.uniform(0.8, 1.0) if lit
                  else jitter(rng, (60, 80, 105), 15) * light + 0.3 * s.hor)
            cv.fill(ws, wc, WINDOW)


def paint_tree(s: Scene, x: float, base: float) -> None:
    """A trunk and a conifer (stacked triangle) or deciduous (overlapping discs) crown; nearer = bigger."""
    rng, cv, ys, xs, light = s.rng, s.cv, s.cv.ys, s.cv.xs, s.light
    scale = 0.5 + 1.2 * np.clip(base - s.horizon, 0, 1)
    th, tw = rng.uniform(0.04, 0.08) * scale, rng.uniform(0.012, 0.022) * scale
    tcol = jitter(rng, (90, 60, 40), 12) * light
    sl = cv.box(x - tw / 2, base - th, x + tw / 2, base)
    if sl is not None:
        cv.fill(sl, tcol + 4 * s.grain[sl][..., None], TRUNK)
    autumn = rng.random() < 0.15
    fcol = jitter(rng, (200, 120, 40) if autumn else rng.choice([(50, 110, 45), (35, 90, 50), (75, 125, 45)]), 15)
    fcol = fcol * light
    if rng.random() < 0.35:  # conifer
        h, w = rng.uniform(0.12, 0.22) * scale, rng.uniform(0.05, 0.08) * scale
        ytop = base - th * 0.6 - h
        fs = cv.box(x - w, ytop, x + w, base - th * 0.6)
        if fs is None:
            return
        yy, xx = ys[fs[0]], xs[:, fs[1]]
        m = np.abs(xx - x) < w * np.clip((yy - ytop) / h, 0, 1)
    else:  # deciduous
        r = rng.uniform(0.035, 0.06) * scale
        cy = base - th - r * 0.6
        fs = cv.box(x - 2.2 * r, cy - 2.2 * r, x + 2.2 * r, cy + 1.5 * r)
        if fs is None:
            return
        yy, xx = ys[fs[0]], xs[:, fs[1]]
        m = (xx - x) ** 2 + (yy - cy) ** 2 < r * r
        for _ in range(rng.integers(2, 5)):
            bx, by, br = x + rng.uniform(-1, 1) * r, cy + rng.uniform(-1, 0.4) * r, r * rng.uniform(0.55, 0.85)
            m |= (xx - bx) ** 2 + (yy - by) ** 2 < br * br
    yy, xx = ys[fs[0]], xs[:, fs[1]]
    shade = 1.0 + 0.25 * np.clip((x - xx) / 0.05, -1, 1) - 0.2 * np.clip((yy - (base - th)) / 0.1, -1, 1)
    cv.paint(fs, m, fcol * shade[..., None] + 14 * s.grain[fs][..., None], TREE)


def apply_light(s: Scene) -> None:
    """The global light on the landscape layers (sky, sun, clouds and objects keep their own brightness)."""
    scene = ~np.isin(s.cv.lab, (SKY, SUN, CLOUD, WINDOW, BUILDING, TREE, TRUNK))
    s.cv.img[scene] *= s.light
