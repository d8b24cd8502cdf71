"""Keep a frozen, rebuildable sub-network out of state dicts (and so out of training checkpoints).

A perceptual backbone (ResNet-50, VGG) is ~95 MB of frozen weights that the loss rebuilds from its
weights file — or from a fixed seed in `pretrained: false` mode — every time it is constructed, so
writing it into every checkpoint only costs disk and time. After `not_checkpointed(net)`:
- `state_dict()` of any module containing `net` has no `<prefix>net.*` keys;
- `load_state_dict(..., strict=True)` does not report them missing, and older checkpoints that still
  carry them load as before (the values are the same frozen weights).
"""
from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["not_checkpointed"]


def not_checkpointed(module: nn.Module) -> nn.Module:
    """Exclude `module`'s parameters and buffers from state dicts; returns `module`."""
    module.register_state_dict_post_hook(_drop_own_keys)
    module.register_load_state_dict_pre_hook(_remember_prefix)
    module.register_load_state_dict_post_hook(_forgive_missing_keys)
    return module


def _drop_own_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    for key in [k for k in state_dict if k.startswith(prefix)]:
        del state_dict[key]


def _remember_prefix(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    # loading is depth-first: this module's post-hook runs right after its own subtree, before any
    # other place it may be shared at, so one attribute suffices.
    module._not_checkpointed_prefix = prefix


def _forgive_missing_keys(module: nn.Module, incompatible_keys: Any) -> None:
    prefix = module.__dict__.pop("_not_checkpointed_prefix", None)
    if prefix is None:
        return
    incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys if not k.startswith(prefix)]
