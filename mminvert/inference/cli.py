"""Inpaint files: an image and a mask, or a folder of images with a folder of masks (same stems) or one
mask for all. Nothing the user has is replaced or lost:

- outputs go to `output_dir/<relative path>/<stem>.png` (`.tif` for TIFF inputs), in the input's depth and mode;
  inputs of one folder that share a stem (`a.png`, `a.jpg`) get `<stem>_<ext>.png` each, so every input has
  its own output; with `num_samples=K > 1` (models that sample) each input gets K files `<name>_sample<k>.png`,
  k = 0..K-1, drawn with `seed` (the same seed and K give the same files);
- the output folder's manifest (`.mminvert_outputs.json`) lists the files this tool wrote with their SHA-256;
  `overwrite=True` replaces only those, and only while unchanged — never an input or any other file;
- every output name is checked before the first file is written; each file is written atomically;
- `on_error="fail"` reads and checks every image and mask first and stops, writing nothing, if one cannot be
  used (unreadable, a mode that cannot be written back such as CMYK, a mask of another size); `on_error="skip"`
  leaves such pairs out and lists them at the end. Every such error names the file;
- `output=` may not be the input folder (nor hold it); masks follow `image_formats.known_pixels` (0/1 masks,
  holes in alpha, all-hole warnings), with warnings that name the mask file.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from rich.progress import track

from ..io.atomic import atomic_write_text
from .image_files import image_size, output_suffix, read_image_file, write_image_file
from .image_formats import NativeImage, known_pixels

if TYPE_CHECKING:  # any WindowedInpainter: Inpainter (torch) or OnnxInpainter (onnxruntime)
    from .windowing import WindowedInpainter as Inpainter

__all__ = ["inpaint_paths", "collect_pairs", "output_paths", "OutputManifest", "IMAGE_EXTENSIONS"]

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
ON_ERROR = ("fail", "skip")


def _images(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Image files under `folder` (recursive; hidden files and anything under `exclude` left out)."""
    ex = exclude.resolve() if exclude is not None else None
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
                  and (ex is None or not p.resolve().is_relative_to(ex)))


def collect_pairs(input_path: str | Path, mask_path: str | Path,
                  exclude: str | Path | None = None) -> list[tuple[Path, Path]]:
    """(image, mask) pairs. A folder of masks is matched by relative path and stem (any extension). Images under
    `exclude` (an output folder inside the input folder) are not inputs."""
    inp, msk = Path(input_path), Path(mask_path)
    if not inp.exists():
        raise FileNotFoundError(f"input {inp} does not exist")
    if not msk.exists():
        raise FileNotFoundError(f"mask {msk} does not exist")
    images = _images(inp, None if exclude is None else Path(exclude)) if inp.is_dir() else [inp]
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


def output_paths(images: list[Path], root: Path, num_samples: int = 1) -> list[list[Path]]:
    """Each image's output paths relative to the output folder: one, or `num_samples` (`<name>_sample<k>`) when
    that is > 1; all distinct."""
    plain = [img.relative_to(root).with_suffix(output_suffix(img)) for img in images]
    shared = Counter(p.with_suffix("") for p in plain)
    rels = [p if shared[p.with_suffix("")] == 1 else
            p.with_name(f"{img.stem}_{img.suffix.lstrip('.').lower()}{p.suffix}")
            for img, p in zip(images, plain)]
    per_image = [[r] if num_samples == 1 else [r.with_name(f"{r.stem}_sample{k}{r.suffix}") for k in range(num_samples)]
                 for r in rels]
    clashes = [r for r, n in Counter(r for rs in per_image for r in rs).items() if n > 1]
    if clashes:
        raise ValueError(f"several inputs would be written to the same output {clashes[0]}: rename one of them")
    return per_image


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class OutputManifest:
    """`<output folder>/.mminvert_outputs.json`: {relative path: SHA-256} of the files this tool wrote there."""

    NAME = ".mminvert_outputs.json"

    def __init__(self, folder: Path) -> None:
        self.folder, self.path = folder, folder / self.NAME
        self.files: dict[str, str] = {}
        if self.path.is_file():
            try:
                self.files = dict(json.loads(self.path.read_text())["files"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning("%s is unreadable (%s): no earlier output will be overwritten", self.path, e)

    def owns(self, target: Path) -> bool:
        """True if this tool wrote `target` and it is unchanged since."""
        rel = target.relative_to(self.folder).as_posix()
        return rel in self.files and target.is_file() and _sha256(target) == self.files[rel]

    def record(self, target: Path) -> None:
        self.files[target.relative_to(self.folder).as_posix()] = _sha256(target)
        atomic_write_text(self.path, json.dumps({"format": "mminvert.inpaint_outputs", "version": 1,
                                                 "files": self.files}, indent=1))


def _read_pair(img_path: Path, mask_path: Path, mask_invert: bool) -> tuple[Image.Image | np.ndarray, np.ndarray]:
    """The image and its mask as known pixels ((H, W) bool), checked: ValueError naming the file that cannot be
    used (unreadable, a mode that cannot be written back, a mask of another size)."""
    image = read_image_file(img_path)
    try:
        NativeImage.of(image)  # the mode check of the Inpainter, before anything is written
    except ValueError as e:
        raise ValueError(f"{img_path}: {e}") from None
    mask = read_image_file(mask_path)
    if image_size(mask) != image_size(image):
        raise ValueError(f"{mask_path}: mask size {image_size(mask)} differs from image {img_path} size "
                         f"{image_size(image)} (H, W)")
    try:
        known = known_pixels(mask, mask_invert, name=f"mask {mask_path}")
    except (ValueError, TypeError) as e:
        raise ValueError(f"{mask_path}: {e}") from None
    return image, known


def _check_output_folder(input_path: Path, out_root: Path) -> None:
    """`output=` must not be the input folder nor hold it: outputs are left out of the inputs, so no input
    would remain (and the results would mix with the originals)."""
    if not input_path.is_dir():
        return
    inp = input_path.resolve()
    if inp == out_root or inp.is_relative_to(out_root):
        where = "is the input folder" if inp == out_root else f"holds the input folder {input_path}"
        raise ValueError(f"output={out_root} {where}: choose an output folder outside the inputs, e.g. "
                         f"output={inp.parent / (inp.name + '_inpainted')}")


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """Hold back the image readers' warnings (said once already, when every pair was checked)."""
    loggers = [logging.getLogger(n) for n in ("mminvert.inference.image_formats", "mminvert.inference.image_files")]
    levels = [lg.level for lg in loggers]
    if on:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def inpaint_paths(inpainter: Inpainter, input_path: str | Path, mask_path: str | Path, output_dir: str | Path,
                  mask_invert: bool = False, overwrite: bool = False, on_error: str = "fail",
                  num_samples: int | None = None, seed: int | None = None) -> list[Path]:
    """Inpaint every pair into `output_dir` (see the module docstring). Returns the written files. `num_samples`
    and `seed` default to the Inpainter's."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    K = inpainter.samples_per_input(num_samples)
    seed = inpainter.seed if seed is None else seed
    out_root = Path(output_dir)
    if out_root.exists() and not out_root.is_dir():
        raise NotADirectoryError(f"output={out_root} is a file: output must be a folder (created if missing)")
    out_root = out_root.resolve()
    _check_output_folder(Path(input_path), out_root)
    pairs = collect_pairs(input_path, mask_path, exclude=out_root)
    root = Path(input_path) if Path(input_path).is_dir() else Path(input_path).parent
    targets = [[out_root / rel for rel in rels] for rels in output_paths([img for img, _ in pairs], root, K)]
    manifest = OutputManifest(out_root)
    inputs = {p.resolve() for pair in pairs for p in pair}
    for (img_path, _), target in ((pair, t) for pair, ts in zip(pairs, targets) for t in ts):
        if target.resolve() in inputs:
            raise ValueError(f"{target} (the output of {img_path}) is an input file: choose an output folder that "
                             "does not hold the inputs")
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists (pass overwrite=true to replace earlier outputs of this tool)")
        if target.exists() and not manifest.owns(target):
            raise FileExistsError(f"{target} exists and was not written by inpaint.py (or was changed since): "
                                  "refusing to replace it even with overwrite=true; choose another output folder")
    if on_error == "fail":  # read everything first: an unusable file stops the run before anything is written
        problems = []
        for img_path, m_path in pairs:
            try:
                _read_pair(img_path, m_path, mask_invert)
            except ValueError as e:
                problems.append(str(e))
        if problems:
            raise ValueError(f"{len(problems)} of {len(pairs)} input(s) cannot be used, nothing was written "
                             f"(on_error=skip leaves them out):\n  " + "\n  ".join(problems))
    written, skipped = [], []
    jobs = list(zip(pairs, targets))
    for (img_path, m_path), paths in track(jobs, description="inpainting", disable=len(jobs) < 2):
        try:
            with _quiet(on_error == "fail"):  # the check above already said what it had to say about the mask
                image, known = _read_pair(img_path, m_path, mask_invert)
        except ValueError as e:
            if on_error == "fail":
                raise
            skipped.append(str(e))
            continue
        result = inpainter(image, known, num_samples=K, seed=seed)
        for target, fill in zip(paths, [result] if K == 1 else result):
            target.parent.mkdir(parents=True, exist_ok=True)
            write_image_file(fill, target)
            manifest.record(target)
            written.append(target)
    log.info("wrote %d image(s) to %s", len(written), out_root)
    if skipped:
        log.warning("skipped %d of %d input(s) (on_error=skip):\n  %s", len(skipped), len(pairs), "\n  ".join(skipped))
    return written
