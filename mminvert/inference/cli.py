"""Inpaint files: an image and a mask, or a folder of images with a folder of masks (same stems) or one
mask for all. Outputs go to a separate folder and never replace an input."""
from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image
from rich.progress import track

from .inpainter import Inpainter

__all__ = ["inpaint_paths", "collect_pairs"]

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)


def collect_pairs(input_path: str | Path, mask_path: str | Path) -> list[tuple[Path, Path]]:
    """(image, mask) pairs. A folder of masks is matched by relative path and stem (any extension)."""
    inp, msk = Path(input_path), Path(mask_path)
    if not inp.exists():
        raise FileNotFoundError(f"input {inp} does not exist")
    if not msk.exists():
        raise FileNotFoundError(f"mask {msk} does not exist")
    images = _images(inp) if inp.is_dir() else [inp]
    if not images:
        raise FileNotFoundError(f"no images in {inp}")
    if msk.is_file():
        return [(img, msk) for img in images]
    by_stem = {(p.relative_to(msk).parent / p.stem).as_posix(): p for p in _images(msk)}
    pairs, missing = [], []
    for img in images:
        rel = (img.relative_to(inp).parent / img.stem).as_posix() if inp.is_dir() else img.stem
        if rel in by_stem:
            pairs.append((img, by_stem[rel]))
        else:
            missing.append(str(img))
    if missing:
        raise FileNotFoundError(f"no mask in {msk} for {len(missing)} image(s), e.g. {missing[:3]}")
    return pairs


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable image ({e})") from None


def inpaint_paths(inpainter: Inpainter, input_path: str | Path, mask_path: str | Path, output_dir: str | Path,
                  mask_invert: bool = False, overwrite: bool = False) -> list[Path]:
    """Inpaint every pair; write `output_dir/<relative path>.png`. Returns the written files."""
    pairs = collect_pairs(input_path, mask_path)
    out_root = Path(output_dir).resolve()
    inputs = {p.resolve() for pair in pairs for p in pair}
    root = Path(input_path) if Path(input_path).is_dir() else Path(input_path).parent
    written = []
    for img_path, mask_path_ in track(pairs, description="inpainting", disable=len(pairs) < 2):
        rel = img_path.relative_to(root).with_suffix(".png")
        target = out_root / rel
        if target.resolve() in inputs:
            raise ValueError(f"{target} is an input file: choose an output folder that does not hold the inputs")
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists (pass overwrite=true to replace earlier outputs)")
        image, mask = _open(img_path), _open(mask_path_)
        if mask.size != image.size:
            raise ValueError(f"{mask_path_}: mask size {mask.size} differs from image {img_path} size {image.size}")
        result = inpainter(image, mask, mask_invert=mask_invert)
        target.parent.mkdir(parents=True, exist_ok=True)
        result.save(target)
        written.append(target)
    log.info("wrote %d image(s) to %s", len(written), out_root)
    return written
