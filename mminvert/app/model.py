"""The model the app serves: a given checkpoint / bundle, or the bundled scenes inpainter.

`DEFAULT_BUNDLE` (mminvert/assets/scenes64_inpainter.pt) is MMInvertFill trained on the built-in 64 px
scenes against the bundled scenes64 generator (docs/app.md says how it was trained). It is stored in
float16 to keep the package small and loads back into float32 (`load_state_dict` casts); `python -m
mminvert.app.model SRC OUT` writes such a bundle from an exported bundle or a run folder.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from ..data.run_data import read_data_record
from ..data.scenes import SCENE_CLASSES
from ..inference import Inpainter
from ..inference.bundle import model_from_checkpoint_dict, save_bundle
from ..io import resolve_checkpoint
from ..io.checkpoint_file import read_checkpoint
from ..utils.assets import bundled_asset
from ..utils.device import resolve_device

__all__ = ["DEFAULT_BUNDLE", "load_model", "write_fp16_bundle"]

DEFAULT_BUNDLE = bundled_asset("inpainter", "scenes64")


def _class_names(obj: dict, inpainter: Inpainter) -> list[str]:
    """The names a bundle stores (`class_names`), else those of the training data's record (in the checkpoint, or
    its run folder's config.yaml), else 'class k'."""
    names = list(obj.get("class_names") or [])
    if len(names) != inpainter.num_classes:
        return inpainter.class_names
    return [str(n) for n in names]


def _read(path: Path, device: str | torch.device = "cpu") -> tuple[Inpainter, dict]:
    """(Inpainter with its `data_record`, the checkpoint dict) of a bundle or a training checkpoint file."""
    obj = read_checkpoint(path, "cpu")
    inpainter = Inpainter(model_from_checkpoint_dict(obj, path), device)
    inpainter.data_record = read_data_record(obj, path)
    return inpainter, obj


def load_model(ckpt: str | Path | None = None, device: str = "auto") -> tuple[Inpainter, list[str], Path]:
    """(Inpainter, class names, resolved path) for a bundle, a training checkpoint or a run folder;
    None = the bundled scenes model."""
    path = DEFAULT_BUNDLE if ckpt is None else resolve_checkpoint(ckpt)
    inpainter, obj = _read(Path(path), resolve_device(device))
    return inpainter, _class_names(obj, inpainter), Path(path)


def write_fp16_bundle(src: str | Path, out: str | Path, class_names: Sequence[str] | None = None) -> Path:
    """A float16 copy of an inference bundle / checkpoint with the class names the app shows."""
    inpainter, obj = _read(resolve_checkpoint(src))
    names = list(class_names) if class_names is not None else _class_names(obj, inpainter)
    return save_bundle(inpainter.model.half(), out, class_names=names)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="write a float16 inference bundle for the app")
    ap.add_argument("src", help="inference bundle, checkpoint or run folder")
    ap.add_argument("out")
    ap.add_argument("--scenes", action="store_true", help="store the built-in scenes' class names")
    a = ap.parse_args(argv)
    print(write_fp16_bundle(a.src, a.out, SCENE_CLASSES if a.scenes else None))


if __name__ == "__main__":
    main()
