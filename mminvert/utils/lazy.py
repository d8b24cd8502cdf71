"""Names a package exports but imports only on first use (so that light entry points stay light: the torch-free
ONNX backend, data readers without Lightning)."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: `table[name]` is the (relative) submodule that defines `name`; the value
    is imported on first access and kept in the package. Unknown names raise AttributeError as usual."""

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
