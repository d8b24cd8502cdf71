"""Inference bundle: model architecture (plain data) + weights, loadable without Lightning or Hydra.

`{"format": "mminvert.inpainter", "version": 1, "architecture": {...}, "state_dict": {...}}` — the
state dict includes the generator and the soft-updated mean latent w̄_onl. Read with
`torch.load(weights_only=True)`. `architecture["model_class"]` names the class that rebuilds the model
(model_classes.py; absent in files written before it existed: MMInvertFill).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..io.atomic import atomic_torch_save
from ..io.checkpoint_file import read_checkpoint
from ..io.errors import CheckpointError
from ..io.formats import ARCHITECTURE_KEY, BUNDLE_FORMAT
from .model_classes import MODEL_CLASSES, model_class_for

__all__ = ["BUNDLE_FORMAT", "save_bundle", "load_bundle", "load_diverse", "model_from_checkpoint_dict", "check_export_target",
           "check_replaceable", "describe_existing_file"]



def save_bundle(model: torch.nn.Module, path: str | Path, **extra: Any) -> Path:
    """Write the bundle atomically (a temporary file renamed into place). The model's class must be one the
    loaders know (`MODEL_CLASSES`), so that the file can be read back."""
    arch = dict(model.architecture())
    arch.setdefault("model_class", type(model).__name__)
    if arch["model_class"] not in MODEL_CLASSES:
        raise ValueError(f"cannot write a bundle of a {arch['model_class']} model: no loader knows that class "
                         f"(known: {sorted(MODEL_CLASSES)}; see mminvert.inference.model_classes.register_model_class)")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    obj = {"format": BUNDLE_FORMAT, "version": 1, "architecture": arch, "state_dict": state, **extra}
    return atomic_torch_save(obj, path)


def check_export_target(source: str | Path, out: str | Path) -> None:
    """Refuse to export onto the checkpoint being exported (the same file under any name: a relative path,
    a symlink, a hard link): `overwrite=true` would replace a training checkpoint, with its optimiser state
    and step, by a weights-only bundle."""
    out = Path(out)
    if out.exists() and os.path.samefile(source, out):
        same = "" if Path(source).resolve() == out.resolve() else f" (it is {Path(source).resolve()})"
        raise FileExistsError(f"refusing to export to {out}{same}: that is the checkpoint being exported, and "
                              "overwriting it would lose it (a bundle keeps weights only). Choose another out=.")


_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"BM", "a BMP image"),
          (b"%PDF", "a PDF document"))


def describe_existing_file(path: str | Path) -> str | None:
    """None if `path` is an mminvert inference bundle (or an ONNX graph mminvert exported); else what it is, in
    words ('a PNG image', 'a folder', 'a training checkpoint (step 1200)')."""
    p = Path(path)
    if p.is_dir():
        return "a folder"
    if not p.is_file():
        return "not a regular file"
    if p.suffix.lower() == ".onnx":  # our graphs carry their format in the metadata (onnx_export.py)
        from .onnx_export import GRAPH_FORMAT

        return None if GRAPH_FORMAT.encode() in p.read_bytes() else "an ONNX file that mminvert did not export"
    with open(p, "rb") as f:
        head = f.read(16)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    try:
        obj = read_checkpoint(p)
    except (CheckpointError, OSError) as e:
        return f"a file that is not an mminvert bundle ({e})"
    if isinstance(obj, dict) and obj.get("format") == BUNDLE_FORMAT:
        return None
    if isinstance(obj, dict) and "pytorch-lightning_version" in obj:
        return f"a training checkpoint (step {obj.get('global_step', '?')})"
    if isinstance(obj, dict) and obj.get("format"):
        return f"a file of another format ({obj['format']!r})"
    return "a torch or pickle file that is not an mminvert bundle"


def check_replaceable(out: str | Path) -> None:
    """`overwrite=true` replaces only an existing mminvert inference bundle: FileExistsError saying what `out` is
    otherwise (an image, a training checkpoint, a folder, ...)."""
    if Path(out).exists() or Path(out).is_symlink():
        what = describe_existing_file(out)
        if what is not None:
            raise FileExistsError(f"refusing to overwrite {out}: it is {what}, not an mminvert inference bundle; "
                                  "overwrite=true replaces only an earlier bundle. Choose another out=.")


def model_from_checkpoint_dict(obj: Any, path: str | Path) -> torch.nn.Module:
    """Model (eval mode) from a bundle dict, or from a training checkpoint that carries `mminvert_architecture`,
    rebuilt by the class its architecture names (`architecture["model_class"]`, default MMInvertFill)."""
    if not isinstance(obj, dict):
        raise CheckpointError(path, "not an mminvert inpainting checkpoint (top level is not a dict)")
    if obj.get("format") == BUNDLE_FORMAT:
        arch, state = obj["architecture"], obj["state_dict"]
    elif ARCHITECTURE_KEY in obj and "state_dict" in obj:  # Lightning checkpoint of an inpainting task
        arch = obj[ARCHITECTURE_KEY]
        prefix = "model."
        state = {k[len(prefix):]: v for k, v in obj["state_dict"].items() if k.startswith(prefix)}
    else:
        raise CheckpointError(path, "not an mminvert inpainting checkpoint: expected an inference bundle "
                                    "(format 'mminvert.inpainter') or a training checkpoint of the inpainting task")
    model = model_class_for(arch, path).from_architecture(arch)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(path, f"weights do not match the recorded architecture: missing {missing[:5]}, "
                                    f"unexpected {unexpected[:5]}")
    return model.eval()


def load_bundle(path: str | Path, map_location: str | torch.device = "cpu") -> torch.nn.Module:
    """The model a bundle, training checkpoint (file) holds, on `map_location`, in eval mode."""
    return model_from_checkpoint_dict(read_checkpoint(path, map_location), path).to(map_location)


def load_diverse(path: str | Path, map_location: str | torch.device = "cpu") -> torch.nn.Module:
    """The DiverseInversion (eval mode) a training checkpoint of task=diverse or a bundle holds; a CheckpointError
    when the file holds another model class."""
    from ..diverse import DiverseInversion

    model = load_bundle(path, map_location)
    if not isinstance(model, DiverseInversion):
        raise CheckpointError(path, f"holds a {type(model).__name__} model, not a DiverseInversion")
    return model
