"""Inference: the `Inpainter` API (PyTorch), the exportable inference bundle, and `OnnxInpainter` (onnxruntime).

`OnnxInpainter` and the window code it shares with `Inpainter` import no torch; the PyTorch names load on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

from .onnx_inpainter import OnnxInpainter

_LAZY = {"Inpainter": ".inpainter", "save_bundle": ".bundle", "load_bundle": ".bundle", "BUNDLE_FORMAT": ".bundle"}
__all__ = ["Inpainter", "OnnxInpainter", "save_bundle", "load_bundle", "BUNDLE_FORMAT"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mminvert.inference' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
