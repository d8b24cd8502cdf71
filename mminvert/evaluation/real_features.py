"""Inception features of an evaluation's real images: computed once per run (the real images are the same
in every hole-ratio bucket) and cached on disk across runs.

The cache file is named by a hash of its key — data set identity (the source config), split, image count,
resolution and the Inception file's SHA-256 — so a changed key misses the cache. Each entry also stores a
digest of the image it was computed from, and features are only reused for the very same image tensors:
a stale or corrupt file is reported, recomputed and rewritten, never trusted.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..io.atomic import atomic_write_bytes

__all__ = ["RealFeatureCache", "RealFeatures", "image_digests", "CACHE_VERSION"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the file layout or the meaning of the key changes


def image_digests(images: Tensor) -> list[str]:
    """SHA-1 of each image's float32 bytes: (B, 3, H, W) -> B hex strings."""
    x = images.detach().to("cpu", torch.float32).contiguous().numpy()
    return [hashlib.sha1(img.tobytes()).hexdigest() for img in x]


class RealFeatureCache:
    """One `.npz` file under `directory`: `features` (N, D) float32, `digests` (N,), and the `key` (JSON)."""

    def __init__(self, directory: str | os.PathLike, key: dict[str, Any]) -> None:
        self.key_json = json.dumps({"cache_version": CACHE_VERSION, **key}, sort_keys=True, default=str)
        name = hashlib.sha256(self.key_json.encode()).hexdigest()[:20]
        self.path = Path(directory) / f"real_{name}.npz"

    def load(self, count: int) -> tuple[np.ndarray, list[str]] | None:
        """(features (count, D), digests) of a valid file; None when there is none (or it is unusable, with
        a warning saying why)."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                key, feats, digests = str(f["key"]), f["features"], [str(d) for d in f["digests"]]
            if key != self.key_json:
                raise ValueError("its key differs from this evaluation's")
            if feats.dtype != np.float32 or feats.ndim != 2 or len(feats) != count or len(digests) != count:
                raise ValueError(f"features {feats.dtype} {feats.shape} and {len(digests)} digests, expected "
                                 f"({count}, D) float32")
            if not np.isfinite(feats).all():
                raise ValueError("non-finite features")
        except Exception as e:  # noqa: BLE001 — any unreadable file is recomputed, never trusted
            log.warning("ignoring the real-image feature cache %s (%s: %s); recomputing it", self.path,
                        type(e).__name__, e)
            return None
        return feats, digests

    def save(self, features: np.ndarray, digests: list[str]) -> None:
        """Write atomically (a temporary file, then a rename): readers never see a partial file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, key=np.array(self.key_json), features=features.astype(np.float32, copy=False),
                 digests=np.array(digests))
        # a unique temporary name: parallel sweep jobs (other hosts of a shared file system too) write at once
        atomic_write_bytes(self.path, buf.getvalue())
        log.info("cached Inception features of %d real images in %s", len(features), self.path)


class RealFeatures:
    """Features of real images 0..N-1 of an evaluation, by position. `get(start, images)` returns the known
    features of `images` (positions start..start+B-1) or None; `put` records computed ones; `finish()`
    writes the cache once all N are known and something was computed."""

    def __init__(self, count: int, cache: RealFeatureCache | None = None) -> None:
        self.count, self.cache = int(count), cache
        self.features: np.ndarray | None = None
        self.digests: list[str | None] = [None] * self.count
        self.computed = False  # anything not from the cache file (then it is (re)written)
        self.stale_warned = False
        loaded = cache.load(self.count) if cache is not None else None
        if loaded is not None:
            self.features, digests = loaded
            self.digests = list(digests)
            log.info("Inception features of the %d real images read from %s", self.count, cache.path)

    def get(self, start: int, images: Tensor) -> Tensor | None:
        stop = start + images.shape[0]
        known = self.digests[start:stop]
        if self.features is None or any(d is None for d in known):
            return None
        if known != image_digests(images):
            if not self.stale_warned:
                log.warning("real-image feature cache %s does not match the images (the data changed); "
                            "recomputing", getattr(self.cache, "path", "(memory)"))
                self.stale_warned = True
            for i in range(start, stop):
                self.digests[i] = None
            return None
        return torch.from_numpy(self.features[start:stop].copy())

    def put(self, start: int, images: Tensor, features: Tensor) -> None:
        f = features.detach().to("cpu", torch.float32).numpy()
        if self.features is None:
            self.features = np.zeros((self.count, f.shape[1]), np.float32)
        self.features[start:start + len(f)] = f
        self.digests[start:start + len(f)] = image_digests(images)
        self.computed = True

    def finish(self) -> None:
        if self.cache is not None and self.computed and all(d is not None for d in self.digests):
            try:
                self.cache.save(self.features, self.digests)  # type: ignore[arg-type]
            except OSError as e:
                log.warning("could not write the real-image feature cache %s: %s", self.cache.path, e)
            self.computed = False
