"""Find pretrained weights of auxiliary networks offline: a configured path, $MMINVERT_WEIGHTS, or the
torch cache. Nothing is ever downloaded; a missing file raises an error that says where it was looked
for and how to get it.

Known files: torchvision's ImageNet weights (looked for in $MMINVERT_WEIGHTS and `<torch hub>/checkpoints`)
and LaMa's ADE20k ResNet-50-dilated segmentation encoder for the high-receptive-field loss (looked for
as `ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth` under $MMINVERT_WEIGHTS and
$TORCH_HOME, where LaMa's setup puts it).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["TORCHVISION_WEIGHTS", "ADE20K_WEIGHTS", "resolve_weights", "MissingWeightsError", "load_lpips_backbone"]

# torchvision file names (ImageNet-1k V1 weights) in the torch hub cache.
TORCHVISION_WEIGHTS = {
    "vgg16": "vgg16-397923af.pth",
    "vgg19": "vgg19-dcbb9e9d.pth",
    "alexnet": "alexnet-owt-7be5be79.pth",
    "resnet50": "resnet50-0676ba61.pth",
}

# Relative paths (as LaMa lays them out under $TORCH_HOME) of the MIT scene-parsing encoders.
ADE20K_WEIGHTS = {
    "resnet50dilated_ade20k": "ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth",
}
_HOW_TO_GET = {
    "torchvision": "`python -c \"import torchvision; torchvision.models.{name}(weights='DEFAULT')\"` on a machine "
                   "with internet access fills its torch cache; copy {file} from there",
    "ade20k": "LaMa's README downloads it (ade20k-resnet50dilated-ppm_deepsup from the MIT scene-parsing "
              "model zoo) into $TORCH_HOME/ade20k/",
}


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights of an auxiliary network are not on this machine."""


def resolve_weights(name: str | Sequence[str], path: str | os.PathLike | None = None) -> Path:
    """Path of the weights of network `name` (the first of several names that is found), or `path`."""
    names = [name] if isinstance(name, str) else list(name)
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise MissingWeightsError(f"weights for {' / '.join(names)}: {p} does not exist")
        return p
    looked, hints = [], []
    for n in names:
        for c in _candidates(n):
            if c.is_file():
                return c
            looked.append(str(c))
        kind = "ade20k" if n in ADE20K_WEIGHTS else "torchvision"
        hints.append(_HOW_TO_GET[kind].format(name=n, file=TORCHVISION_WEIGHTS.get(n, "")))
    raise MissingWeightsError(
        f"pretrained {' or '.join(names)} weights not found (looked in: {', '.join(looked)}). "
        f"To get them: {'; or '.join(hints)}. Or set MMINVERT_WEIGHTS to a folder holding them, or give the "
        "file as the loss's `weights_path`. For tests and smoke runs set `pretrained: false` (random features).")


def _candidates(name: str) -> list[Path]:
    env = [Path(os.environ["MMINVERT_WEIGHTS"])] if os.environ.get("MMINVERT_WEIGHTS") else []
    hub = Path(torch.hub.get_dir())
    if name in ADE20K_WEIGHTS:
        rel = ADE20K_WEIGHTS[name]
        return [root / rel for root in env] + [hub.parent / rel]
    if name not in TORCHVISION_WEIGHTS:
        known = sorted(TORCHVISION_WEIGHTS) + sorted(ADE20K_WEIGHTS)
        raise KeyError(f"unknown auxiliary network {name!r}; known: {known}")
    filename = TORCHVISION_WEIGHTS[name]
    return [root / filename for root in env] + [hub / "checkpoints" / filename]


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
