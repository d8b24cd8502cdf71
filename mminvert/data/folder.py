"""Image-folder data sources (with optional label maps) and CelebAMask-HQ.

A source is a split of a data set: `len(source)`, `source.load(i) -> (image (H, W, 3) uint8 RGB,
labels (H, W) uint8 with 255 = ignore, or None, path)`, `source.class_names`. Geometry (resize/crop)
is the dataset's job. Unreadable files raise an error naming the file.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from .label_maps import CELEBAMASK_CLASSES, CELEBAMASK_PARTS, LabelMap

__all__ = ["FolderSource", "CelebAMaskHQSource", "read_image", "read_labels", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB; grayscale/RGBA/palette images are converted, 16-bit ones scaled to 8 bits (PIL's
    own conversion would clip them to white). Corrupt files -> ValueError naming them."""
    try:
        with Image.open(path) as im:
            if im.mode.startswith("I") or im.mode == "F":
                grey = _grey_to_8bit(np.asarray(im), im.mode)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB")).copy()
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"{path}: unreadable image ({e})") from None


def _grey_to_8bit(a: np.ndarray, mode: str) -> np.ndarray:
    """16-bit grey (I;16, or I holding 0..65535) -> uint8 by 65535 -> 255; float grey in 0..1 -> uint8."""
    if mode == "F":
        if not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
            raise ValueError("float images must hold values in 0..1 to be used as training data")
        return np.rint(a * 255).astype(np.uint8)
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() > 65535:
        raise ValueError(f"{mode} image with values {a.min()}..{a.max()} outside 0..65535")
    return ((a * 255 + 32767) // 65535).astype(np.uint8)


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """(H, W) integer label ids from a single-channel (or palette) image."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16", "1"):
                raise ValueError(f"label maps must be single-channel, got mode {im.mode}")
            return np.asarray(im).astype(np.int64)
    except (OSError, SyntaxError) as e:
        raise ValueError(f"{path}: unreadable label map ({e})") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _split_files(files: list[Path], split: str, val_count: int, test_count: int, where: Path) -> list[Path]:
    n = len(files)
    if n and n <= val_count + test_count:
        raise ValueError(f"{where} holds {n} images, but val_count={val_count} + test_count={test_count} are held "
                         "out for validation and testing, which leaves none to train on: lower "
                         "data.source.val_count / data.source.test_count, or give file lists (data.source.lists)")
    bounds = {"train": (0, n - val_count - test_count), "val": (n - val_count - test_count, n - test_count),
              "test": (n - test_count, n)}
    if split not in bounds:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(bounds)}")
    a, b = bounds[split]
    return files[max(a, 0) : b]


class FolderSource:
    """Images under `root` (recursive; jpg/png/webp/bmp), or the files listed in `lists[split]`
    (`.flist`/`.txt`, one path per line, relative to `root` or absolute). Without lists, the sorted
    files are split: the last `test_count` are test, the `val_count` before them val, the rest train.
    Labels: `labels_root` holds, for image `<rel>/<stem>.<ext>`, `<rel>/<stem − strip_suffix><label_suffix>`
    (Cityscapes: strip `_leftImg8bit`, add `_gtFine_labelIds.png`); `label_map` converts their ids
    (identity when None)."""

    def __init__(self, root: str | os.PathLike, split: str = "train", lists: Mapping[str, str] | None = None,
                 val_count: int = 0, test_count: int = 0, labels_root: str | os.PathLike | None = None,
                 label_suffix: str = ".png", strip_suffix: str = "", label_map: LabelMap | None = None,
                 class_names: list[str] | None = None, resolution: int | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        if lists and split in lists:
            list_path = Path(lists[split])
            if not list_path.is_file():
                raise FileNotFoundError(f"file list {list_path} for split {split!r} does not exist")
            lines = [ln.strip() for ln in list_path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
            self.files = [Path(ln) if Path(ln).is_absolute() else self.root / ln for ln in lines]
        else:
            files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            self.files = _split_files(files, split, val_count, test_count, self.root)
        if not self.files:
            raise FileNotFoundError(f"no images for split {split!r} under {self.root}")
        self.labels_root = Path(labels_root) if labels_root else None
        self.label_suffix, self.strip_suffix, self.label_map = label_suffix, strip_suffix, label_map
        names = label_map.classes if label_map is not None else class_names
        self.class_names: tuple[str, ...] = tuple(names or ())
        self.split = split

    def __len__(self) -> int:
        return len(self.files)

    def key(self, i: int) -> str:
        return str(self.files[i])

    def label_path(self, image_path: Path) -> Path:
        rel = image_path.relative_to(self.root) if image_path.is_relative_to(self.root) else Path(image_path.name)
        stem = rel.stem.removesuffix(self.strip_suffix) if self.strip_suffix else rel.stem
        return self.labels_root / rel.parent / f"{stem}{self.label_suffix}"

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray | None, str]:
        path = self.files[i]
        img = read_image(path)
        if self.labels_root is None:
            return img, None, str(path)
        lp = self.label_path(path)
        if not lp.is_file():
            raise FileNotFoundError(f"{path}: label map {lp} does not exist")
        ids = read_labels(lp)
        labels = self.label_map(ids, str(lp)) if self.label_map is not None else _identity(ids, str(lp))
        if labels.shape != img.shape[:2]:
            raise ValueError(f"{lp}: label map size {labels.shape} differs from image size {img.shape[:2]}")
        return img, labels, str(path)


def _identity(ids: np.ndarray, path: str) -> np.ndarray:
    if ids.min() < 0 or ids.max() > 255:
        raise ValueError(f"{path}: label ids outside 0..255 need a label_map")
    return ids.astype(np.uint8)


class CelebAMaskHQSource:
    """CelebAMask-HQ: `root/CelebA-HQ-img/<idx>.jpg` and part masks
    `root/CelebAMask-HQ-mask-anno/<idx // 2000>/<idx:05d>_<part>.png` merged into `CELEBAMASK_CLASSES`.
    Splits by index: the last `test_count` ids are test, the `val_count` before them val."""

    class_names = CELEBAMASK_CLASSES

    def __init__(self, root: str | os.PathLike, split: str = "train", val_count: int = 0, test_count: int = 2000,
                 resolution: int | None = None) -> None:
        self.root = Path(root)
        img_dir = self.root / "CelebA-HQ-img"
        if not img_dir.is_dir():
            raise FileNotFoundError(f"CelebAMask-HQ images not found at {img_dir}")
        files = sorted(img_dir.glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1)
        self.files = _split_files(files, split, val_count, test_count, img_dir)
        if not self.files:
            raise FileNotFoundError(f"no CelebAMask-HQ images for split {split!r} under {img_dir}")
        self.anno = self.root / "CelebAMask-HQ-mask-anno"
        self.split = split

    def __len__(self) -> int:
        return len(self.files)

    def key(self, i: int) -> str:
        return str(self.files[i])

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, str]:
        path = self.files[i]
        img = read_image(path)
        idx = int(path.stem)
        folder = self.anno / str(idx // 2000)
        labels: np.ndarray | None = None
        for part, cls in CELEBAMASK_PARTS:
            f = folder / f"{idx:05d}_{part}.png"
            if not f.exists():
                continue
            with Image.open(f) as im:
                m = np.asarray(im.convert("L")) > 127
            if labels is None:
                labels = np.zeros(m.shape, np.uint8)  # background
            labels[m] = CELEBAMASK_CLASSES.index(cls)
        if labels is None:
            raise FileNotFoundError(f"{path}: no part masks found in {folder}")
        if labels.shape != img.shape[:2]:  # masks are 512 px, images 1024 px: bring labels to the image
            lab = Image.fromarray(labels).resize((img.shape[1], img.shape[0]), Image.NEAREST)
            labels = np.asarray(lab).copy()
        return img, labels, str(path)
