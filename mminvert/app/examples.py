"""Example images of the page: scenes rendered from the built-in procedural source when the app starts
(nothing to ship or download), plus the photos of a folder the user names (`examples=DIR`).

The page serves only copies: the folder's images (files directly in it that open as images) are copied into a
fresh temporary folder, and only those copies are served (see `launch.served_paths`) — never the folder itself,
its other files or its subfolders."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from ..data.scenes import ScenesSource

__all__ = ["IMAGE_SUFFIXES", "render_scenes", "folder_images"]

log = logging.getLogger(__name__)
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


def _is_image(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except Exception:  # noqa: BLE001 — any file PIL cannot read is not an example image
        return False


def folder_images(folder: str | os.PathLike, limit: int = 24, copy_to: str | os.PathLike | None = None) -> list[Path]:
    """Copies of the image files directly in `folder` (by suffix, and PIL must read them), sorted by name, at
    most `limit`, in `copy_to` (default: a new temporary folder). Files that are not images are left out."""
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"examples folder {d} does not exist")
    candidates = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    images = [p for p in candidates if _is_image(p)]
    for p in sorted(set(candidates) - set(images)):
        log.warning("examples: %s is not a readable image; it is not offered", p)
    dest = Path(copy_to) if copy_to else Path(tempfile.mkdtemp(prefix="mminvert_user_examples_"))
    dest.mkdir(parents=True, exist_ok=True)
    copies = []
    for p in images[:limit]:
        copy = dest / p.name
        shutil.copyfile(p, copy)  # the contents only: a symlink's target is not exposed by its path
        copies.append(copy)
    return copies
