"""Image files at their own depth: reading (PIL; 16-bit RGB(A) PNG/TIFF through OpenCV, since PIL reduces them to
8 bits) and atomic writing in a format that keeps the image's depth and mode (PNG, or TIFF for TIFF inputs).

Reading shows the image as viewers do: an EXIF orientation (a phone photo stored sideways) is applied, so an
image, its mask and the result all have the upright size and the result displays like the input (it is written
upright, without the tag). A file with several frames (animated GIF/WebP, multi-page TIFF) is read as its
first frame, with a warning naming the file."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..io.atomic import atomic_path

__all__ = ["read_image_file", "write_image_file", "output_suffix", "image_size"]

log = logging.getLogger(__name__)
_TIFF = (".tif", ".tiff")
_ORIENTATION = 0x0112  # EXIF tag
# EXIF orientation -> the numpy operation that makes the stored pixels upright (as PIL's exif_transpose)
_UPRIGHT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
            8: lambda a: np.rot90(a, 1)}


def _bits_per_sample(im: Image.Image, path: Path) -> int:
    """Bit depth of a colour PNG or TIFF as stored in the file (PIL's RGB mode does not tell 8 from 16)."""
    if im.format == "PNG":
        with open(path, "rb") as f:
            header = f.read(25)
        return header[24] if len(header) == 25 and header[12:16] == b"IHDR" else 8
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        return int(bits[0] if isinstance(bits, tuple) else bits)
    return 8


def read_image_file(path: str | os.PathLike) -> Image.Image | np.ndarray:
    """A PIL image in its own mode, or (16-bit colour files) an (H, W, 3|4) uint16 RGB(A) array.
    Unreadable files -> ValueError naming them."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                log.warning("%s has %d frames (an animation or a multi-page file): only the first frame is used",
                            path, frames)
            orientation = im.getexif().get(_ORIENTATION, 1)
            orientation = orientation if orientation in _UPRIGHT else 1
            if orientation != 1:
                log.info("%s: EXIF orientation %d applied (the image is used upright, as viewers show it)", path,
                         orientation)
            if im.mode in ("RGB", "RGBA") and _bits_per_sample(im, path) == 16:
                return np.ascontiguousarray(_UPRIGHT[orientation](_read_16bit_colour(path))) if orientation != 1 \
                    else _read_16bit_colour(path)
            im.load()
            return _upright(im, orientation)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"{path}: unreadable image ({e})") from None


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    """A copy of `im` with its EXIF orientation applied (mode, palette and metadata kept; the tag removed)."""
    if orientation == 1:
        return im.copy()
    out = ImageOps.exif_transpose(im)
    out.info.pop("exif", None)  # the pixels are upright now: a copied orientation tag would turn them again
    return out


def _read_16bit_colour(path: Path) -> np.ndarray:
    arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"OpenCV could not read it as 16-bit RGB(A) (got {None if arr is None else arr.shape})")
    order = [2, 1, 0, 3][: arr.shape[2]]  # OpenCV's BGR(A) -> RGB(A)
    return np.ascontiguousarray(arr[..., order])


def image_size(image: Image.Image | np.ndarray) -> tuple[int, int]:
    """(H, W)."""
    return (image.height, image.width) if isinstance(image, Image.Image) else (image.shape[0], image.shape[1])


def output_suffix(input_path: Path) -> str:
    """TIFF stays TIFF (it may hold 32-bit integer or float images); everything else becomes PNG (lossless, so
    known pixels stay bit-identical; a JPEG's known pixels are its decoded values)."""
    return ".tif" if input_path.suffix.lower() in _TIFF else ".png"


def write_image_file(image: Image.Image | np.ndarray, target: Path) -> None:
    """Write atomically (a temporary file in the same folder renamed into place); the format follows the suffix."""
    fmt = "TIFF" if target.suffix.lower() in _TIFF else "PNG"
    with atomic_path(target) as tmp:  # removed on any failure; a full disk's error names `target`
        if isinstance(image, Image.Image):
            image.save(tmp, format=fmt)
        else:
            arr = image[..., [2, 1, 0, 3][: image.shape[2]]] if image.ndim == 3 and image.shape[2] in (3, 4) else image
            ok, buf = cv2.imencode(".tif" if fmt == "TIFF" else ".png", np.ascontiguousarray(arr))
            if not ok:
                raise ValueError(f"{target}: OpenCV could not encode a {image.dtype} {image.shape} image")
            tmp.write_bytes(buf.tobytes())
