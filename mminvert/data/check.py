"""Check a data preset before training on it: `mminvert data check data=<name> [overrides] [--limit N]`.

Reads every image (and label map) of the train, val and test splits the way training will (the preset's source, its
file lists, label suffix and label map) and reports per split: the number of images, their sizes, the label ids
found and which classes occur. Problems are listed with the file they concern, and the command exits with 1:

- a split that cannot be built (missing folder or file list, too few images for val_count + test_count);
- an unreadable image or label map, a missing label map, a label map of another size than its image;
- label ids outside 0..num_classes-1 (255 = ignore is allowed);
- class names whose number differs from num_classes;
- the same image in two splits.

Notes (no failure): images smaller than the resolution (they are upscaled), classes that never occur.
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .label_maps import IGNORE_INDEX

__all__ = ["SplitReport", "DataReport", "check_data", "main"]

SPLITS = ("train", "val", "test")


@dataclass
class SplitReport:
    """What one split holds."""

    split: str
    count: int = 0
    checked: int = 0
    sizes: Counter = field(default_factory=Counter)       # (H, W) -> images
    label_ids: Counter = field(default_factory=Counter)   # id -> images containing it
    unlabelled: int = 0
    keys: list[str] = field(default_factory=list)

    def line(self, num_classes: int) -> str:
        sizes = ", ".join(f"{w}x{h} ({n})" for (h, w), n in self.sizes.most_common(3))
        more = f" and {len(self.sizes) - 3} other sizes" if len(self.sizes) > 3 else ""
        part = f"{self.checked} of {self.count} checked" if self.checked < self.count else f"{self.count} images"
        text = f"  {self.split}: {part}; sizes (W x H) {sizes}{more}"
        if num_classes:
            ids = sorted(i for i in self.label_ids if i != IGNORE_INDEX)
            ignore = self.label_ids.get(IGNORE_INDEX, 0)
            text += f"; label ids {_ranges(ids)}" + (f", 255 (ignore) in {ignore} images" if ignore else "")
        elif self.unlabelled:
            text += "; no label maps"
        return text


@dataclass
class DataReport:
    """The report of `check_data`: per split, the problems (failures) and notes."""

    description: str
    resolution: int
    num_classes: int
    class_names: tuple[str, ...]
    splits: list[SplitReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        names = f": {', '.join(self.class_names)}" if self.class_names else ""
        lines = [f"data set {self.description}, {self.num_classes} classes{names}"]
        lines += [s.line(self.num_classes) for s in self.splits]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"PROBLEM: {p}" for p in self.problems]
        lines.append("OK: ready to train" if self.ok else f"{len(self.problems)} problem(s): fix them before training")
        return "\n".join(lines)


def _ranges(ids: list[int]) -> str:
    """[0, 1, 2, 5] -> '0..2, 5'."""
    if not ids:
        return "none"
    out, start, prev = [], ids[0], ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        out.append(str(start) if start == prev else f"{start}..{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(out)


def _check_split(dm: Any, split: str, limit: int | None, report: DataReport) -> SplitReport | None:
    try:
        source = dm.source_factory(split=split, resolution=dm.resolution)
    except (OSError, ValueError) as e:
        report.problems.append(f"{split} split: {e}")
        return None
    sr = SplitReport(split, count=len(source))
    if not report.class_names:
        report.class_names = tuple(getattr(source, "class_names", ()) or ())
    n = len(source) if limit is None else min(limit, len(source))
    small = 0
    for i in range(n):
        key = str(source.key(i)) if hasattr(source, "key") else str(i)
        try:
            img, labels, _ = source.load(i)
        except (OSError, ValueError) as e:
            report.problems.append(f"{split} split, {key}: {e}")
            continue
        sr.checked += 1
        sr.keys.append(key)
        h, w = img.shape[:2]
        sr.sizes[(h, w)] += 1
        small += min(h, w) < dm.resolution
        if labels is None:
            sr.unlabelled += 1
            continue
        ids = np.unique(labels)
        sr.label_ids.update(int(v) for v in ids)
        bad = [int(v) for v in ids if v != IGNORE_INDEX and v >= dm.num_classes]
        if bad:
            report.problems.append(f"{split} split, {key}: label ids {bad} outside 0..{dm.num_classes - 1} (num_classes="
                                   f"{dm.num_classes}; 255 = ignore)")
    if small:
        report.notes.append(f"{split}: {small} images are smaller than {dm.resolution} px on a side, the resolution "
                            "these overrides give the model (they are upscaled)")
    if dm.num_classes and sr.unlabelled:
        report.problems.append(f"{split} split: {sr.unlabelled} images without label maps, but num_classes="
                               f"{dm.num_classes} (give labels_root, or num_classes=0 for an RGB-only model)")
    return sr


def check_data(dm: Any, description: str, limit: int | None = None) -> DataReport:
    """Read the splits of DataModule `dm` (at most `limit` images each) and report what they hold (module docstring)."""
    report = DataReport(description, int(dm.resolution), int(dm.num_classes), tuple(dm.class_names))
    for split in SPLITS:
        sr = _check_split(dm, split, limit, report)
        if sr is not None:
            report.splits.append(sr)
    if report.class_names and len(report.class_names) != report.num_classes:
        report.problems.append(f"{len(report.class_names)} class names but num_classes={report.num_classes}")
    if report.num_classes:
        seen = set().union(*(s.label_ids for s in report.splits)) if report.splits else set()
        absent = [k for k in range(report.num_classes) if k not in seen]
        if absent:
            report.notes.append(f"classes {_ranges(absent)} occur in no checked label map")
    owners: dict[str, str] = {}
    for s in report.splits:
        for key in s.keys:
            if key in owners and owners[key] != s.split:
                report.problems.append(f"{key} is in both the {owners[key]} and the {s.split} split")
            owners.setdefault(key, s.split)
    return report


def main(overrides: list[str], limit: int | None = None) -> int:
    """Compose conf/config.yaml with `overrides` (data=<name>, hydra.searchpath=[file://...], ...), check its data
    set and print the report. Returns 0 when it is ready to train, 1 when it has problems."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from hydra.utils import instantiate

    from .preview import CONF
    from .run_data import describe_data

    try:
        with initialize_config_dir(str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
            name = cfg.hydra.runtime.choices.get("data")
        dm = instantiate(cfg.data)
        description = describe_data(cfg.data, name)
    except (HydraException, OSError, ValueError) as e:
        print(f"mminvert data check: {e}", file=sys.stderr)
        return 1
    report = check_data(dm, description, limit)
    print(report.text())
    return 0 if report.ok else 1
