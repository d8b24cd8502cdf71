"""Find pretrained weights of auxiliary networks offline: a configured path, $MMINVERT_WEIGHTS, or the
torch hub cache. Nothing is ever downloaded; a missing file raises an error that says where it was
looked for and how to get it."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["TORCHVISION_WEIGHTS", "resolve_weights", "MissingWeightsError", "load_lpips_backbone"]

# torchvision file names (ImageNet-1k V1 weights) in the torch hub cache.
TORCHVISION_WEIGHTS = {
    "vgg16": "vgg16-397923af.pth",
    "vgg19": "vgg19-dcbb9e9d.pth",
    "alexnet": "alexnet-owt-7be5be79.pth",
    "resnet50": "resnet50-0676ba61.pth",
}


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights of an auxiliary network are not on this machine."""


def resolve_weights(name: str, path: str | os.PathLike | None = None) -> Path:
    """Path of the weights of torchvision network `name` (or of the explicit `path`)."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise MissingWeightsError(f"weights for {name}: {p} does not exist")
        return p
    filename = TORCHVISION_WEIGHTS[name]
    candidates = []
    if os.environ.get("MMINVERT_WEIGHTS"):
        candidates.append(Path(os.environ["MMINVERT_WEIGHTS"]) / filename)
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / filename)
    for c in candidates:
        if c.is_file():
            return c
    looked = ", ".join(str(c) for c in candidates)
    raise MissingWeightsError(
        f"pretrained {name} weights '{filename}' not found (looked in: {looked}). Copy the file there from a "
        f"machine with internet access (e.g. `python -c \"import torchvision; torchvision.models.{name}"
        f"(weights='DEFAULT')\"` fills its torch cache), set MMINVERT_WEIGHTS, or give the path in the loss "
        "config. For tests and smoke runs set `pretrained: false` (random features).")


def load_lpips_backbone(model: nn.Module, state_dict: dict[str, Tensor]) -> None:
    """Copy torchvision `features.<i>.*` weights into the lpips package's `slice<k>.<i>.*` modules."""
    own = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        if parts[0] != "features":
            continue
        for name, module in model.named_children():
            if name.startswith("slice") and parts[1] in module._modules:
                own[f"{name}.{parts[1]}.{parts[2]}"] = value
    model.load_state_dict(own)
