"""Inference: the `Inpainter` API (PyTorch), the exportable inference bundle, and `OnnxInpainter` (onnxruntime).

`OnnxInpainter` and the window code it shares with `Inpainter` import no torch; the PyTorch names load on first use.
"""
from __future__ import annotations

from ..utils.lazy import lazy_exports
from .onnx_inpainter import OnnxInpainter

_LAZY = {"Inpainter": ".inpainter", "save_bundle": ".bundle", "load_bundle": ".bundle", "BUNDLE_FORMAT": ".bundle"}
__all__ = ["Inpainter", "OnnxInpainter", "save_bundle", "load_bundle", "BUNDLE_FORMAT"]


__getattr__ = lazy_exports(__name__, _LAZY)
