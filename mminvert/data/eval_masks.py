"""Fixed, versioned evaluation masks: one set per (resolution, hole-ratio bucket), stored as PNG files
(white = known) with a `manifest.json` (seed, generator version, hole ratios, file digests), plus
masks from a user's folder.

Mask i of a set is drawn from `SeedSequence([seed, i])`, so a manifest is enough to regenerate its
files bit for bit (`EvalMaskSet.verify`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..io.atomic import atomic_write_bytes
from .masks import MASKS_VERSION, BucketMasks, hole_ratio

__all__ = ["BUCKETS", "WIDE_BUCKETS", "EvalMaskSet", "FolderMasks", "parse_bucket", "read_mask_file", "bucket_ratio"]

log = logging.getLogger(__name__)
BUCKETS = ((0.1, 0.3), (0.4, 0.6), (0.7, 0.9))
WIDE_BUCKETS = ((0.0, 0.4), (0.4, 1.0), (0.0, 1.0))  # the diverse-inpainting paper's "easy", "difficult", all


def parse_bucket(bucket: str | tuple[float, float]) -> tuple[float, float]:
    """'0.1-0.3' or (0.1, 0.3) -> (0.1, 0.3)."""
    if isinstance(bucket, str):
        lo, hi = (float(v) for v in bucket.split("-"))
        return lo, hi
    lo, hi = bucket
    return float(lo), float(hi)


def _bucket_name(lo: float, hi: float, ratio: str = "lowest") -> str:
    return f"{lo:.2f}-{hi:.2f}" + ("" if ratio == "lowest" else f"_{ratio}")


def bucket_ratio(bucket: str | tuple[float, float], mode: str = "auto") -> str:
    """How a bucket's hole ratios are drawn (BucketMasks `ratio`): "spread" (the default since December 2026),
    "lowest" / "uniform" as given, or `auto`, the earlier default kept for the tables measured with it: "uniform"
    over buckets wider than 0.2 (0–0.4, 0.4–1, 0–1) and "lowest" for the 0.2-wide buckets (legacy sets whose
    masks sit near the bucket's low end)."""
    if mode != "auto":
        return mode
    lo, hi = parse_bucket(bucket)
    return "uniform" if hi - lo > 0.2 + 1e-9 else "lowest"


def read_mask_file(path: str | os.PathLike, invert: bool = False) -> np.ndarray:
    """A mask image -> (H, W) float32 {0, 1}, 1 = known (pixel > 127; 16-bit masks: > 32767) unless `invert`.

    Single-channel images, or RGB(A) images whose colour channels are equal; anything else is refused
    with an error naming the file.
    """
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode.startswith("I"):  # 16/32-bit: threshold at half the 16-bit range (no clipping to 255)
                arr = np.where(np.asarray(im).astype(np.int64) > 32767, 255, 0).astype(np.uint8)
            else:
                arr = np.asarray(im.convert("L") if im.mode in ("1", "P") else im)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable mask image ({e})") from None
    if arr.ndim == 3:
        rgb = arr[..., :3]
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise ValueError(f"{path}: mask must be single-channel (its colour channels differ)")
        arr = rgb[..., 0]
    known = (arr > 127).astype(np.float32)
    return 1 - known if invert else known


class EvalMaskSet:
    """`count` masks of size `resolution` with hole ratio in `bucket`, under `root/<resolution>/<bucket>/`
    (`<bucket>_uniform/` for `ratio="uniform"`, see BucketMasks)."""

    def __init__(self, root: str | os.PathLike, resolution: int, bucket: str | tuple[float, float],
                 count: int = 1000, seed: int = 2025, ratio: str = "lowest") -> None:
        self.lo, self.hi = parse_bucket(bucket)
        self.resolution, self.count, self.seed, self.ratio = int(resolution), int(count), int(seed), ratio
        self.generator = BucketMasks(self.lo, self.hi, ratio=ratio)
        self.dir = Path(root) / str(self.resolution) / _bucket_name(self.lo, self.hi, ratio)

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def draw(self, i: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, i]))
        return self.generator(rng, self.resolution, self.resolution)

    def ensure(self) -> EvalMaskSet:
        """Make sure masks 0..count-1 exist on disk. Mask i depends only on (seed, i), so an existing set
        with the same seed and generator version is reused, and extended when more masks are asked for;
        a set with another seed or version is an error (never overwritten)."""
        old: dict = {}
        if self.manifest_path.exists():
            old = json.loads(self.manifest_path.read_text())
            if (old.get("seed"), old.get("generator_version"), old.get("resolution"), old.get("ratio", "lowest")) != (
                    self.seed, MASKS_VERSION, self.resolution, self.ratio):
                raise ValueError(f"{self.manifest_path}: existing evaluation set has different parameters "
                                 f"(seed/version/resolution/ratio {old.get('seed')}/{old.get('generator_version')}/"
                                 f"{old.get('resolution')}/{old.get('ratio', 'lowest')}); use another root instead "
                                 "of overwriting it")
            if old.get("count", 0) >= self.count:
                return self
        self.dir.mkdir(parents=True, exist_ok=True)
        files, ratios = list(old.get("files", [])), list(old.get("hole_ratios", []))
        for i in range(len(files), self.count):
            mask = self.draw(i)
            name = f"{i:05d}.png"
            _write_png(self.dir / name, mask)
            files.append({"file": name, "sha1": hashlib.sha1((self.dir / name).read_bytes()).hexdigest()})
            ratios.append(round(hole_ratio(mask), 6))
        manifest = {"seed": self.seed, "generator_version": MASKS_VERSION, "resolution": self.resolution,
                    "bucket": [self.lo, self.hi], "count": len(files), "hole_ratios": ratios, "files": files}
        if self.ratio != "lowest":  # sets drawn the original way keep their manifest unchanged
            manifest["ratio"] = self.ratio
        _write_atomic(self.manifest_path, json.dumps(manifest, indent=1).encode())
        # the manifest appears last: a set with a manifest is complete
        log.info("evaluation masks %d..%d written to %s", len(old.get("files", [])), self.count - 1, self.dir)
        return self

    def __len__(self) -> int:
        return self.count

    def hole_ratios(self) -> list[float]:
        """Hole ratio of each mask, from the manifest (call `ensure` first)."""
        return list(json.loads(self.manifest_path.read_text())["hole_ratios"])[: self.count]

    def load(self, i: int) -> np.ndarray:
        return read_mask_file(self.dir / f"{i % self.count:05d}.png")

    def verify(self) -> bool:
        """Regenerate every mask from the manifest's seed and compare with the stored files."""
        m = json.loads(self.manifest_path.read_text())
        for i, entry in enumerate(m["files"]):
            if not np.array_equal(self.draw(i), read_mask_file(self.dir / entry["file"])):
                return False
        return True


def _write_atomic(path: Path, data: bytes) -> None:
    """Write through a uniquely named temporary file and a rename. Jobs of a sweep that make the same set at
    once (the same deterministic bytes) then never see, nor leave, a half-written file."""
    atomic_write_bytes(path, data)


def _write_png(path: Path, mask: np.ndarray) -> None:
    ok, png = cv2.imencode(".png", (mask * 255).astype(np.uint8))
    if not ok:
        raise OSError(f"could not encode {path}")
    _write_atomic(path, png.tobytes())


class FolderMasks:
    """Masks from a folder of images (sorted, recursive), any size: resized to `resolution` with nearest
    neighbour; pixel > 127 = known unless `invert`. Mask i is file i modulo the count."""

    def __init__(self, root: str | os.PathLike, resolution: int, invert: bool = False) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"mask folder {self.root} does not exist")
        self.files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".bmp", ".webp"))
        if not self.files:
            raise FileNotFoundError(f"mask folder {self.root} has no mask images")
        self.resolution, self.invert = int(resolution), invert

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> np.ndarray:
        mask = read_mask_file(self.files[i % len(self.files)], self.invert)
        if mask.shape != (self.resolution, self.resolution):
            mask = cv2.resize(mask, (self.resolution, self.resolution), interpolation=cv2.INTER_NEAREST)
        return mask
