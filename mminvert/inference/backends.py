"""Open a model file with the backend that runs it: `torch` (`Inpainter`: bundles, training checkpoints, run
folders) or `onnxruntime` (`OnnxInpainter`: graphs written by `mminvert export ... format=onnx`). Used by
inpaint.py and `mminvert inpaint`; imports torch only for the torch backend."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..utils.assets import bundled_asset
from .windowing import WindowedInpainter

__all__ = ["BACKENDS", "BUNDLED_INPAINTER", "backend_for", "open_inpainter"]

BACKENDS = ("auto", "torch", "onnxruntime")
BUNDLED_INPAINTER = bundled_asset("inpainter", "scenes64")  # 64 px scenes model


def backend_for(ckpt: str | Path, backend: str = "auto") -> str:
    """"torch" or "onnxruntime": `backend`, or from the file for "auto" (.onnx -> onnxruntime); a mismatch between
    the two is a ValueError naming the file."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    is_onnx = Path(ckpt).suffix.lower() == ".onnx"
    if backend == "auto":
        return "onnxruntime" if is_onnx else "torch"
    if backend == "onnxruntime" and not is_onnx:
        raise ValueError(f"backend=onnxruntime runs an ONNX graph, but {ckpt} is not a .onnx file: export one with "
                         f"`mminvert export ckpt={ckpt} out=model.onnx`")
    if backend == "torch" and is_onnx:
        raise ValueError(f"backend=torch reads bundles and checkpoints, not the ONNX graph {ckpt}: use "
                         "backend=onnxruntime (or auto)")
    return backend


def open_inpainter(ckpt: str | Path, backend: str = "auto", device: str = "auto", threads: int | None = None,
                   **kwargs: Any) -> WindowedInpainter:
    """An Inpainter or OnnxInpainter for `ckpt`; `kwargs` (context, num_samples, seed, batch_size) go to it.
    `device` applies to torch (auto: cuda when available), `threads` to onnxruntime (None: its default)."""
    if backend_for(ckpt, backend) == "onnxruntime":
        from .onnx_inpainter import OnnxInpainter

        return OnnxInpainter(ckpt, threads=threads, **kwargs)
    from ..io import resolve_checkpoint
    from ..utils.device import resolve_device
    from .inpainter import Inpainter

    return Inpainter.from_checkpoint(resolve_checkpoint(ckpt), device=resolve_device(device), **kwargs)
