"""Type errors in a Hydra config named by their key, before anything is built.

`data.batch_size=four` otherwise reaches `InpaintingDataModule(batch_size="four")` and fails later inside a
comparison (`TypeError: '<' not supported between 'str' and 'int'`) that names neither key nor value. Here
each node with a `_target_` is compared with the signature of the class or function it names: a value given
for a parameter annotated as a number or a flag only (`int`, `float`, `bool`, optionally `| None`) must be
one. Parameters with other annotations, and nodes whose target cannot be imported, are left to the target.
"""
from __future__ import annotations

import inspect
import re
import typing
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = ["check_config_types"]

_SCALARS = {"int": int, "float": float, "bool": bool, "None": type(None)}
_WRAPPERS = {"Optional", "Union", "typing", "typing.Optional", "typing.Union"}


def _kinds(annotation: Any) -> set[str] | None:
    """{'int', 'None'} for `int | None`; None when the annotation allows anything else."""
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9.]*", annotation)) - _WRAPPERS
        return names if names and names <= set(_SCALARS) else None
    args = typing.get_args(annotation)
    if args:
        kinds = [_kinds(a) for a in args]
        return set().union(*kinds) if all(kinds) else None
    for name, cls in _SCALARS.items():
        if annotation is cls:
            return {name}
    return None


def _mismatch(value: Any, kinds: set[str]) -> str | None:
    """What the value should have been, or None if it fits."""
    if value is None:
        return None if "None" in kinds else "not null"
    numeric = kinds & {"int", "float"}
    if isinstance(value, bool):
        return None if "bool" in kinds or not numeric else f"{_words(kinds)}, not true/false"
    if isinstance(value, int):
        return None if numeric or "bool" in kinds else _words(kinds)
    if isinstance(value, float):
        if "float" in kinds or ("int" in kinds and value.is_integer()):
            return None
        return _words(kinds)
    return _words(kinds)  # a string (or a list / dict) where only numbers or flags fit


def _words(kinds: set[str]) -> str:
    parts = [{"int": "an integer", "float": "a number", "bool": "true or false"}[k]
             for k in ("int", "float", "bool") if k in kinds]
    return " or ".join(parts) + (" (or null)" if "None" in kinds else "")


def _parameters(target: str) -> dict[str, inspect.Parameter] | None:
    from hydra.utils import get_object

    try:
        obj = get_object(target)
        return dict(inspect.signature(obj).parameters)
    except Exception:  # noqa: BLE001 — an unimportable target fails with its own error when instantiated
        return None


def check_config_types(node: Any, path: str) -> None:
    """ValueError `"<path>.<key> must be an integer, got 'four'"` for the first value in `node` (recursively)
    that contradicts its target's signature."""
    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            check_config_types(item, f"{path}[{i}]")
        return
    if not isinstance(node, DictConfig):
        return
    params = _parameters(str(node["_target_"])) if "_target_" in node else None
    for key in node:
        if str(key).startswith("_"):
            continue
        try:
            child = node[key]
        except Exception:  # noqa: BLE001 — an interpolation that resolves only later (or never): not ours
            continue
        if isinstance(child, (DictConfig, ListConfig)):
            check_config_types(child, f"{path}.{key}")
            continue
        kinds = _kinds(params[key].annotation) if params and key in params else None
        if kinds is None:
            continue
        expected = _mismatch(child, kinds)
        if expected is not None:
            shown = OmegaConf.to_container(child) if isinstance(child, (DictConfig, ListConfig)) else child
            raise ValueError(f"{path}.{key} must be {expected}, got {shown!r}")
