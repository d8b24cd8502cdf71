"""Which class rebuilds a stored model: `architecture["model_class"]` -> a lazily imported class.

Every loader of an inpainting checkpoint (bundles, training checkpoints, `Inpainter.from_checkpoint`, evaluate.py,
the app, `mminvert export`) goes through `model_class_for`, so a new method is one entry here. Architectures
stored before the key existed are MMInvertFill's.

A registered class provides `architecture() -> dict` (plain data, with "model_class"), the classmethod
`from_architecture(arch)`, and `forward(batch) -> {"image", "composite", ...}`; classes that draw several fills
per input also set `supports_sampling = True` and provide `sample(batch, num_samples, seed)`.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..io.errors import CheckpointError

__all__ = ["MODEL_CLASSES", "LEGACY_MODEL_CLASS", "register_model_class", "model_class_name", "model_class_for",
           "supports_sampling"]

# name -> "module:attribute", imported only when a checkpoint of that class is loaded
MODEL_CLASSES: dict[str, str] = {
    "MMInvertFill": "mminvert.inversion:MMInvertFill",
    "DiverseInversion": "mminvert.diverse:DiverseInversion",
}
LEGACY_MODEL_CLASS = "MMInvertFill"  # architectures without "model_class" were all written by MMInvertFill


def register_model_class(name: str, import_path: str) -> None:
    """Make checkpoints whose architecture names `name` load through `import_path` ("package.module:Class")."""
    if ":" not in import_path:
        raise ValueError(f"import path must read 'package.module:Class', got {import_path!r}")
    MODEL_CLASSES[name] = import_path


def model_class_name(arch: Any) -> str:
    """The class an architecture dict names (missing key = an MMInvertFill stored before the key existed)."""
    if not isinstance(arch, dict):
        raise TypeError(f"a model architecture is a dict, got {type(arch).__name__}")
    return str(arch.get("model_class", LEGACY_MODEL_CLASS))


def model_class_for(arch: Any, path: str | Path | None = None) -> type:
    """The class that rebuilds `arch`; unknown or unimportable classes raise a CheckpointError naming them."""
    name = model_class_name(arch)
    if name not in MODEL_CLASSES:
        raise CheckpointError(path, f"the checkpoint holds a model of class {name!r}, which this version of mminvert "
                                    f"does not know (known classes: {sorted(MODEL_CLASSES)})")
    module_name, _, attr = MODEL_CLASSES[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise CheckpointError(path, f"the checkpoint holds a model of class {name!r}, but its module {module_name} "
                                    f"cannot be imported ({e})") from e
    cls = getattr(module, attr, None)
    if cls is None:
        raise CheckpointError(path, f"the checkpoint holds a model of class {name!r}, but {module_name} has no "
                                    f"attribute {attr!r}")
    return cls


def supports_sampling(model: Any) -> bool:
    """True for models that draw several fills per input (`sample(batch, num_samples, seed)`)."""
    return bool(getattr(model, "supports_sampling", False)) and callable(getattr(model, "sample", None))
