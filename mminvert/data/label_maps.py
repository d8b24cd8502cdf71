"""Label maps: source label ids -> our classes (0..K-1), 255 = ignore.

`LabelMap(classes, mapping, ignore)` maps each source id listed in `mapping` to a class (by index or
name) and each id in `ignore` to 255; any other id is an error naming the file, unless
`unmapped: ignore`. Built-in tables: `cityscapes_label_map()` (labelIds -> the 19 training classes)
and the CelebAMask-HQ part merge (`CELEBAMASK_PARTS`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["LabelMap", "IGNORE_INDEX", "cityscapes_label_map", "CELEBAMASK_CLASSES", "CELEBAMASK_PARTS"]

IGNORE_INDEX = 255


class LabelMap:
    """Callable: (H, W) integer source ids -> (H, W) uint8 classes with 255 = ignore."""

    def __init__(self, classes: Sequence[str], mapping: Mapping[int, int | str], ignore: Sequence[int] = (),
                 unmapped: str = "error") -> None:
        if unmapped not in ("error", "ignore"):
            raise ValueError(f"unmapped must be 'error' or 'ignore', got {unmapped!r}")
        self.classes = tuple(classes)
        if len(self.classes) >= IGNORE_INDEX:
            raise ValueError(f"at most {IGNORE_INDEX - 1} classes, got {len(self.classes)}")
        size = max([int(k) for k in mapping] + [int(i) for i in ignore] + [255]) + 1
        self.table = np.full(size, -1, dtype=np.int32)  # -1 = unmapped
        for src, dst in mapping.items():
            idx = self.classes.index(dst) if isinstance(dst, str) else int(dst)
            if not 0 <= idx < len(self.classes):
                raise ValueError(f"label map: id {src} maps to class {dst!r}, not one of {len(self.classes)} classes")
            self.table[int(src)] = idx
        for i in ignore:
            self.table[int(i)] = IGNORE_INDEX
        self.unmapped = unmapped

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __call__(self, labels: np.ndarray, path: str = "") -> np.ndarray:
        ids = labels.astype(np.int64)
        if ids.min() < 0 or ids.max() >= len(self.table):
            bad = ids[(ids < 0) | (ids >= len(self.table))]
            return self._unmapped(np.unique(bad), path, ids)
        out = self.table[ids]
        if (out < 0).any():
            return self._unmapped(np.unique(ids[out < 0]), path, ids)
        return out.astype(np.uint8)

    def _unmapped(self, bad: np.ndarray, path: str, ids: np.ndarray) -> np.ndarray:
        if self.unmapped == "error":
            raise ValueError(f"{path or 'label map'}: label ids {bad[:10].tolist()} have no mapping "
                             "(add them to `mapping` or `ignore`, or set unmapped: ignore)")
        table = np.where(self.table < 0, IGNORE_INDEX, self.table)
        inside = (ids >= 0) & (ids < len(table))
        return np.where(inside, table[np.clip(ids, 0, len(table) - 1)], IGNORE_INDEX).astype(np.uint8)


_CITYSCAPES_TRAIN = {7: "road", 8: "sidewalk", 11: "building", 12: "wall", 13: "fence", 17: "pole",
                     19: "traffic_light", 20: "traffic_sign", 21: "vegetation", 22: "terrain", 23: "sky",
                     24: "person", 25: "rider", 26: "car", 27: "truck", 28: "bus", 31: "train",
                     32: "motorcycle", 33: "bicycle"}


def cityscapes_label_map() -> LabelMap:
    """Cityscapes `*_labelIds.png` -> 19 training classes; the other ids 0–33 are ignored."""
    classes = list(_CITYSCAPES_TRAIN.values())
    ignore = [i for i in range(34) if i not in _CITYSCAPES_TRAIN]
    return LabelMap(classes, _CITYSCAPES_TRAIN, ignore)


# CelebAMask-HQ: per-part files CelebAMask-HQ-mask-anno/<idx // 2000>/<idx:05d>_<part>.png, merged into
# these classes (left/right parts into one). Parts are painted in this order, later ones on top.
CELEBAMASK_CLASSES = ("background", "skin", "nose", "eye_glasses", "eye", "brow", "ear", "mouth", "lip", "hair",
                      "hat", "earring", "necklace", "neck", "cloth")
CELEBAMASK_PARTS = (("skin", "skin"), ("l_brow", "brow"), ("r_brow", "brow"), ("l_eye", "eye"), ("r_eye", "eye"),
                    ("eye_g", "eye_glasses"), ("l_ear", "ear"), ("r_ear", "ear"), ("ear_r", "earring"),
                    ("nose", "nose"), ("mouth", "mouth"), ("u_lip", "lip"), ("l_lip", "lip"), ("neck", "neck"),
                    ("neck_l", "necklace"), ("cloth", "cloth"), ("hair", "hair"), ("hat", "hat"))
