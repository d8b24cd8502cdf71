"""Image files at their own depth: reading (PIL; 16-bit RGB(A) PNG/TIFF through OpenCV, since PIL reduces them to
8 bits) and atomic writing in a format that keeps the image's depth and mode (PNG, or TIFF for TIFF inputs)."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..io.atomic import atomic_path

__all__ = ["read_image_file", "write_image_file", "output_suffix", "image_size"]

_TIFF = (".tif", ".tiff")


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
            if im.mode in ("RGB", "RGBA") and _bits_per_sample(im, path) == 16:
                return _read_16bit_colour(path)
            im.load()
            return im.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"{path}: unreadable image ({e})") from None


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
