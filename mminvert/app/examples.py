"""Example images of the page: scenes rendered from the built-in procedural source when the app starts
(nothing to ship or download), plus the photos of a folder the user names (`examples=DIR`)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PIL import Image

from ..data.scenes import ScenesSource

__all__ = ["IMAGE_SUFFIXES", "render_scenes", "folder_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def render_scenes(out_dir: str | os.PathLike | None = None, count: int = 4, resolution: int = 128,
                  seed: int = 0) -> list[Path]:
    """PNG files of `count` test-split scenes (never seen in training) at `resolution` px."""
    d = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="mminvert_examples_"))
    d.mkdir(parents=True, exist_ok=True)
    source = ScenesSource("test", resolution, seed=seed)
    paths = []
    for i in range(count):
        p = d / f"scene_{i:02d}_{resolution}px.png"
        if not p.exists():
            Image.fromarray(source.load(i)[0], "RGB").save(p)
        paths.append(p)
    return paths


def folder_images(folder: str | os.PathLike, limit: int = 24) -> list[Path]:
    """Image files (by suffix) directly in `folder`, sorted by name, at most `limit`."""
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"examples folder {d} does not exist")
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
