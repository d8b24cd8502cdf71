"""Frozen networks given as a module or a TorchScript file (guidance networks, descriptors, identity networks)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["frozen_network"]


def frozen_network(net: nn.Module | str | Path, what: str, hint: str = "") -> nn.Module:
    """`net` as given, or the TorchScript network the file `net` holds (loaded on the CPU), with no parameter
    requiring grad and in eval mode. `what` names the network in errors; `hint` ends the missing-file error."""
    if isinstance(net, (str, Path)):
        path = Path(str(net)).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{what} {path} does not exist{hint}")
        try:
            net = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as e:
            raise ValueError(f"{path}: not a TorchScript network ({e})") from e
    if not isinstance(net, nn.Module):
        raise TypeError(f"{what} must be an nn.Module or a TorchScript file, got {type(net).__name__}")
    for p in net.parameters():  # (ScriptModules have no requires_grad_)
        p.requires_grad_(False)
    return net.eval()
