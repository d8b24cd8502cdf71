"""Images and masks at their own depth and mode, for the Inpainter.

`NativeImage.of(image)` holds an image's pixels in its own dtype and layout; `.model_input()` gives the
(3, H, W) float view in [-1, 1] the model reads; `.filled(fill, hole)` writes a model output into the hole
pixels only and returns an image of the input's type, mode and dtype (every other pixel, alpha and palette
untouched, bit for bit).

Accepted: PIL images of mode 1, L, LA, P (with or without transparency), RGB, RGBA, I;16 (16-bit grey),
I (32-bit integer) and F (32-bit float); numpy arrays uint8 or uint16 of shape (H, W), (H, W, 3) or (H, W, 4)
(RGB(A)). Value ranges: 8- and 16-bit images map their full range (0..255, 0..65535) to [-1, 1]; I and F
images have no fixed range, so the known pixels' min..max is used and the fill is mapped back into it.
Palette images are filled with the nearest opaque palette colour. Other modes (CMYK, YCbCr, ...) are
refused: converting them back and forth would change known pixels.

Masks (`known_pixels`): white / high = known, black / low = hole (threshold at half the range; float masks
at 0.5). A mask with an alpha channel (LA, RGBA, P with transparency, numpy (H, W, 2|4)) marks holes in
either place: a pixel is known only where it is both light and opaque; when one of the two is constant it
carries no mask and the other decides alone (a hole drawn only in alpha on black pixels), with a warning.
Integer masks whose values are only 0 and 1 (the usual format of other inpainting tools) are read as
0 = hole, 1 = known, with a warning naming the mask. A mask without a hole, or that is entirely hole
(nothing of the input is kept), gets a warning. Boolean arrays are taken as given, without warnings.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["NativeImage", "known_pixels"]

log = logging.getLogger(__name__)

_PIL_DIRECT = {"L": 1, "LA": 1, "RGB": 3, "RGBA": 3, "I;16": 1, "I;16L": 1, "I;16B": 1, "I;16N": 1, "I": 1, "F": 1}
_FIXED_RANGE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


@dataclass
class NativeImage:
    """An image as an array in its own dtype: `array` (H, W) or (H, W, C); its first `colour` channels
    (1 grey, 3 RGB) are image values (palette indices for P), the others (alpha) are never changed."""

    kind: str                       # "pil" or "numpy": what `filled` returns
    mode: str                       # PIL mode of the result ("" for numpy)
    array: np.ndarray
    colour: int
    lo: float                       # value mapped to -1
    hi: float                       # value mapped to +1
    info: dict[str, Any]            # PIL metadata kept on the result (transparency, ICC profile, dpi, ...)
    palette: np.ndarray | None = None       # (N, 3) uint8 colours of a P image (N <= 256)
    palette_opaque: np.ndarray | None = None  # (256,) bool: opaque entries

    # -------------------------------------------------------------------------------- construction
    @classmethod
    def of(cls, image: Image.Image | np.ndarray) -> NativeImage:
        if isinstance(image, Image.Image):
            return cls._of_pil(image)
        if isinstance(image, np.ndarray):
            return cls._of_numpy(image)
        raise TypeError(f"unsupported image type {type(image).__name__}")

    @classmethod
    def _of_pil(cls, im: Image.Image) -> NativeImage:
        info = dict(im.info)
        if im.mode == "1":
            arr = np.asarray(im.convert("L")).copy()
            return cls("pil", "1", arr, 1, 0.0, 255.0, info)
        if im.mode == "P":
            return cls._of_palette(im, info)
        if im.mode not in _PIL_DIRECT:
            raise ValueError(f"unsupported image mode {im.mode!r}: convert the image to RGB or L first "
                             f"(supported: 1, P, {', '.join(_PIL_DIRECT)})")
        arr = np.array(im)
        if arr.dtype.byteorder == ">":  # I;16B: big-endian 16-bit
            arr = arr.astype(arr.dtype.newbyteorder("="))
        colour = _PIL_DIRECT[im.mode]
        if arr.dtype in _FIXED_RANGE:
            return cls("pil", Image.fromarray(arr).mode, arr, colour, 0.0, _FIXED_RANGE[arr.dtype], info)
        lo, hi = _value_range(arr, None)  # see fit_range
        return cls("pil", im.mode, arr, colour, lo, hi, info)

    @classmethod
    def _of_palette(cls, im: Image.Image, info: dict[str, Any]) -> NativeImage:
        pal = np.asarray(im.getpalette() or [], np.uint8).reshape(-1, 3)[:256]  # kept as is (its length too)
        alpha = np.full(256, 255, np.uint8)
        t = im.info.get("transparency")
        if isinstance(t, int):
            alpha[t] = 0
        elif isinstance(t, (bytes, bytearray)):
            alpha[: len(t)] = np.frombuffer(bytes(t), np.uint8)
        return cls("pil", "P", np.array(im), 1, 0.0, 255.0, info, pal, alpha == 255)

    @classmethod
    def _of_numpy(cls, arr: np.ndarray) -> NativeImage:
        if arr.dtype not in _FIXED_RANGE:
            raise ValueError(f"numpy images must be uint8 or uint16, got {arr.dtype} (32-bit and float images: "
                             "pass a PIL image of mode I or F)")
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 1):
            colour = 1
        elif arr.ndim == 3 and arr.shape[2] in (3, 4):
            colour = 3
        else:
            raise ValueError(f"numpy image must be (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
        return cls("numpy", "", arr.copy(), colour, 0.0, _FIXED_RANGE[arr.dtype], {})

    def fit_range(self, known: np.ndarray) -> None:
        """I and F images: map the known pixels' ((H, W) bool) min..max to [-1, 1]; 8/16-bit images keep their
        full range."""
        if self.palette is None and self.array.dtype not in _FIXED_RANGE:
            self.lo, self.hi = _value_range(self.array, known)

    # -------------------------------------------------------------------------------- model side
    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return self.array.shape[0], self.array.shape[1]

    def _colour_values(self) -> np.ndarray:
        """(H, W, 3) float64 colour values (grey replicated)."""
        if self.palette is not None:  # indices past the palette's end read as black
            full = np.zeros((256, 3), np.float64)
            full[: len(self.palette)] = self.palette
            return full[self.array]
        a = self.array.reshape(*self.size, -1)[..., : self.colour].astype(np.float64)
        return np.repeat(a, 3, axis=2) if self.colour == 1 else a

    def model_input(self) -> np.ndarray:
        """(3, H, W) float32 in [-1, 1]."""
        v = np.nan_to_num((self._colour_values() - self.lo) / (self.hi - self.lo) * 2 - 1)
        return np.ascontiguousarray(v.clip(-1, 1).astype(np.float32).transpose(2, 0, 1))

    def filled(self, fill: Any, hole: np.ndarray) -> Image.Image | np.ndarray:
        """`fill` (3, H, W) in [-1, 1] (an array, or a CPU tensor) written into the `hole` pixels ((H, W) bool);
        returns the input's type."""
        fill = np.asarray(fill.detach().cpu() if hasattr(fill, "detach") else fill, dtype=np.float64)
        v = (fill.transpose(1, 2, 0).clip(-1, 1) + 1) / 2 * (self.hi - self.lo) + self.lo
        out = self.array.copy()
        if self.palette is not None:
            _fill_palette(out, v, hole, self.palette, self.palette_opaque)
        else:
            integer = np.issubdtype(out.dtype, np.integer)
            if integer:
                v = np.rint(v).clip(self.lo, self.hi).astype(np.int64)
            if self.colour == 1:  # ITU-R 601 luma, as PIL's RGB -> L
                v = ((v[..., 0] * 299 + v[..., 1] * 587 + v[..., 2] * 114 + 500) // 1000 if integer
                     else v[..., 0] * 0.299 + v[..., 1] * 0.587 + v[..., 2] * 0.114)[..., None]
            target = out.reshape(*self.size, -1)  # a view of `out`
            target[..., : self.colour][hole] = v[hole].astype(out.dtype)
        if self.kind == "numpy":
            return out
        if self.mode == "P":
            result = Image.frombytes("P", (out.shape[1], out.shape[0]), out.tobytes())
            result.putpalette(self.palette.reshape(-1).tolist())
        elif self.mode == "1":
            result = Image.fromarray(out).convert("1", dither=Image.Dither.NONE)
        else:
            result = Image.fromarray(out)
        result.info.update(self.info)
        return result


def _value_range(arr: np.ndarray, known: np.ndarray | None) -> tuple[float, float]:
    """min..max of the known pixels (all pixels when none is known); a constant image gets a unit range."""
    a = arr.reshape(arr.shape[0], arr.shape[1], -1)
    vals = a[known] if known is not None and known.any() else a.reshape(-1, a.shape[2])
    finite = vals[np.isfinite(vals)] if np.issubdtype(vals.dtype, np.floating) else vals
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _fill_palette(indices: np.ndarray, rgb: np.ndarray, hole: np.ndarray, palette: np.ndarray,
                  opaque: np.ndarray) -> None:
    """Hole pixels that are opaque take the nearest opaque palette colour; transparent ones keep their index."""
    where = hole & opaque[indices]
    candidates = np.flatnonzero(opaque[: len(palette)])
    if not where.any() or not len(candidates):
        return
    colours = palette[candidates].astype(np.float64)                    # (K, 3)
    wanted = rgb[where]                                                 # (n, 3)
    nearest = np.empty(len(wanted), np.int64)
    for s in range(0, len(wanted), 16384):                              # bounded memory: chunks of (16384, K)
        d = ((wanted[s : s + 16384, None, :] - colours[None]) ** 2).sum(-1)
        nearest[s : s + 16384] = candidates[d.argmin(1)]
    indices[where] = nearest.astype(indices.dtype)


def known_pixels(mask: Any, invert: bool = False, name: str = "mask") -> np.ndarray:
    """(H, W) bool, True = known (see the module docstring for the conventions). `mask`: a PIL image, a numpy
    array or a torch tensor ((H, W) or (1, H, W), > 0.5 = known; recognised without importing torch); warnings
    name the mask `name` (a file name where there is one)."""
    if type(mask).__module__.startswith("torch") and hasattr(mask, "detach"):
        a = mask.detach().cpu().numpy()
        known = (a[0] if a.ndim == 3 else a) > 0.5
    elif isinstance(mask, Image.Image):
        known = _known_from_array(_pil_mask_array(mask), name)
    elif isinstance(mask, np.ndarray):
        if mask.dtype == np.bool_ and mask.ndim == 2:
            return np.ascontiguousarray(~mask if invert else mask)
        known = _known_from_array(mask, name)
    else:
        raise TypeError(f"unsupported mask type {type(mask).__name__}")
    known = np.ascontiguousarray(~known if invert else known)
    if known.all():
        log.warning("%s has no hole (every pixel is known): the image is returned unchanged. Masks are white = "
                    "known, black = hole; pass mask_invert=true if yours are the other way round.", name)
    elif not known.any():
        log.warning("%s is entirely hole: nothing of the input is kept, the whole image is generated. Masks are "
                    "white = known, black = hole; pass mask_invert=true if yours are the other way round.", name)
    return known


def _pil_mask_array(m: Image.Image) -> np.ndarray:
    """A PIL mask as an array: (H, W) single channel at its own depth, or (H, W, 2) grey + alpha (8-bit)."""
    has_alpha = m.mode in ("LA", "RGBA", "PA") or (m.mode in ("P", "L", "RGB") and "transparency" in m.info)
    if has_alpha:
        return np.asarray(m.convert("RGBA").convert("LA"))
    if m.mode in _PIL_DIRECT and m.mode != "RGB":  # single-channel masks of any depth
        a = np.asarray(m)
        return a.astype(a.dtype.newbyteorder("="))
    return np.asarray(m.convert("L"))  # RGB, palette (its colours, not its indices), 1-bit


def _light(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return a
    if a.dtype in _FIXED_RANGE:
        return a > _FIXED_RANGE[a.dtype] / 2
    if np.issubdtype(a.dtype, np.integer):  # 32-bit masks: 16-bit values, as PIL reads older 16-bit PNGs
        return a > 32767
    return a > 0.5


def _zero_one(a: np.ndarray, name: str, what: str = "") -> np.ndarray:
    """`a > threshold`, or for an integer channel holding only 0 and 1: a == 1 (said in a warning)."""
    if np.issubdtype(a.dtype, np.integer) and a.size and int(a.max()) == 1 and int(a.min()) >= 0:
        log.warning("%s%s holds only the values 0 and 1: read as 0 = hole, 1 = known (as if 0 / 255; pass "
                    "mask_invert=true if 1 marks the hole).", name, what)
        return a == 1
    return _light(a)


def _known_from_array(a: np.ndarray, name: str = "mask") -> np.ndarray:
    if a.ndim == 2:
        return _zero_one(a, name)
    if a.ndim == 3 and a.shape[2] in (1, 3):
        return _zero_one(a[..., 0], name)
    if a.ndim == 3 and a.shape[2] in (2, 4):  # grey/RGB + alpha: known = light and opaque
        colour, alpha = a[..., 0], a[..., -1]
        colour_flat, alpha_flat = colour.min() == colour.max(), alpha.min() == alpha.max()
        if colour_flat and not alpha_flat:
            if not _light(colour).all():
                log.warning("%s: its colour is the same everywhere and its alpha channel varies: the hole is read "
                            "from the alpha channel alone (transparent = hole).", name)
            return _zero_one(alpha, name, " (alpha channel)")
        if alpha_flat and not colour_flat:
            if not _light(alpha).all():
                log.warning("%s: its alpha channel is the same everywhere (transparent): the hole is read from "
                            "its colour alone (black = hole).", name)
            return _zero_one(colour, name)
        return _zero_one(colour, name) & _zero_one(alpha, name, " (alpha channel)")
    raise ValueError(f"{name}: numpy mask must be (H, W) or (H, W, 1|2|3|4), got {a.shape}")
