"""What the page's buttons do, as plain methods of `InpaintApp` (no Gradio here, so they are unit-tested
without a browser). `mminvert.app.ui` wires them to the page.

The page keeps per-tab `state` {"path", "name", "size": (H, W), "mode"} of the loaded image; the original
file is re-read for every run, so the model always sees the user's pixels (the editor only shows a
preview, scaled down to PREVIEW_SIDE, and paints the mask on it). Each callback returns its outputs with a
status message last; a problem with the input becomes that message (`InputError`), never a traceback.
"""
from __future__ import annotations

import functools
import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..inference import Inpainter
from .images import (
    InputError,
    colorize_seg,
    gray_to_rgb,
    legend_html,
    load_image,
    preview,
    read_edge_guidance,
    read_seg_guidance,
    save_png,
    to_uint8,
)
from .masks import hole_ratio, layer_from_known, mask_from_layers, preset_mask
from .methods import Cancelled, CancelToken, optim_inversion, telea

__all__ = ["InpaintApp", "EditorValue", "model_summary"]

log = logging.getLogger(__name__)

EditorValue = dict[str, Any]   # Gradio's ImageEditor value: {"background", "layers", "composite"}
PANEL_SIDE = 256               # model-resolution panels are enlarged (nearest) to this side for display
DISPLAY_SIDE = 2048            # larger results are shown scaled down (the download is full size)


def _guarded(n_outputs: int) -> Callable:
    """Turn InputError / Cancelled / unexpected errors into (None, ..., message)."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> tuple:
            try:
                return fn(*args, **kwargs)
            except InputError as e:
                msg = f"⚠️ {e}"
            except Cancelled:
                msg = "Cancelled."
            except Exception as e:  # noqa: BLE001 — the page shows a message; the log keeps the traceback
                log.exception("callback %s failed", fn.__name__)
                msg = f"⚠️ Internal error ({type(e).__name__}: {e}). The server log has the details."
            return (None,) * (n_outputs - 1) + (msg,)

        return run

    return wrap


def _enlarge(a: np.ndarray, side: int = PANEL_SIDE) -> np.ndarray:
    reps = max(1, side // a.shape[0])
    return np.repeat(np.repeat(a, reps, axis=0), reps, axis=1)


def _for_display(img: Image.Image) -> np.ndarray:
    return preview(img, DISPLAY_SIDE)


class InpaintApp:
    """The app's state shared by all tabs: one model, a lock so one request uses it at a time, the
    cancellation tokens of running jobs per browser session, the examples and an output folder."""

    def __init__(self, inpainter: Inpainter, class_names: Sequence[str], examples: Sequence[str | Path] = (),
                 out_dir: str | Path | None = None, model_name: str = "") -> None:
        self.inpainter, self.class_names = inpainter, list(class_names)
        self.examples = [Path(p) for p in examples]
        self.out_dir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="mminvert_app_"))
        self.model_name = model_name
        self.lock = threading.Lock()
        self._jobs: dict[str, CancelToken] = {}
        self._jobs_lock = threading.Lock()

    @property
    def multimodal(self) -> bool:
        return bool(self.inpainter.use_aux)

    @property
    def can_sample(self) -> bool:
        """True when the served model draws several fills per input (the page's diverse-fills panel)."""
        return self.inpainter.can_sample

    # ------------------------------------------------------------------------------- image and mask
    @_guarded(3)
    def load(self, path: str | None) -> tuple[EditorValue, dict, str]:
        """-> (editor value with the preview as background, state, status)."""
        if not path:
            raise InputError("no file given")
        img = load_image(path)
        W, H = img.size
        state = {"path": str(path), "name": Path(path).name, "size": (H, W), "mode": img.mode}
        view = preview(img)
        scaled = "" if view.shape[:2] == (H, W) else f", shown at {view.shape[1]}x{view.shape[0]}"
        return ({"background": view, "layers": [], "composite": None}, state,
                f"Loaded {state['name']}: {W}x{H}, mode {img.mode}{scaled}. Paint the hole, or apply a preset.")

    def load_example(self, index: int) -> tuple[EditorValue, dict, str]:
        if not 0 <= index < len(self.examples):
            return None, None, f"⚠️ no example {index}"
        return self.load(str(self.examples[index]))

    @_guarded(2)
    def preset(self, state: dict | None, kind: str, ratio: float, seed: int) -> tuple[EditorValue, str]:
        """Replace the paint with a preset mask (drawn at the editor's size) -> (editor value, status)."""
        img = self._image(state)
        view = preview(img)
        known = preset_mask(kind, float(ratio), int(seed), view.shape[0], view.shape[1])
        return ({"background": view, "layers": [layer_from_known(known)], "composite": None},
                f"Preset {kind}: hole ratio {hole_ratio(known):.2f}. The brush and eraser can edit it.")

    @_guarded(2)
    def clear_mask(self, state: dict | None) -> tuple[EditorValue, str]:
        view = preview(self._image(state))
        return {"background": view, "layers": [], "composite": None}, "Mask cleared."

    def _image(self, state: dict | None) -> Image.Image:
        if not state or not state.get("path"):
            raise InputError("load an image first (upload one or pick an example)")
        return load_image(state["path"])

    def inputs(self, state: dict | None, editor: EditorValue | None) -> tuple[Image.Image, np.ndarray]:
        """(original image, known map (H, W) bool) of a tab; raises InputError on no image / no hole."""
        img = self._image(state)
        H, W = img.height, img.width
        known = mask_from_layers((editor or {}).get("layers") or [], (H, W))
        if known.all():
            raise InputError("the mask is empty: paint the hole with the brush, or apply a mask preset")
        return img, known

    # ------------------------------------------------------------------------------- the model
    @_guarded(5)
    def inpaint(self, state: dict | None, editor: EditorValue | None, seg_file: str | None = None,
                edge_file: str | None = None) -> tuple[np.ndarray, str, list, str, str]:
        """-> (completed image for display, PNG path at the input's size, panels [(image, caption)],
        legend HTML, status)."""
        img, known = self.inputs(state, editor)
        H, W = known.shape
        notes: list[str] = []
        seg = edge = None
        if (seg_file or edge_file) and not self.multimodal:
            notes.append("this model takes no segmentation / edge guidance; the uploads were ignored")
        elif seg_file or edge_file:
            if seg_file:
                seg = read_seg_guidance(seg_file, (H, W), self.inpainter.num_classes, notes)
            if edge_file:
                edge = read_edge_guidance(edge_file, (H, W), notes)
        with self.lock:
            p = self.inpainter.inspect(img, known.astype(np.uint8) * 255, seg=seg, edge=edge)
        result: Image.Image = p["result"]
        path = save_png(result, self.out_dir, Path(state["name"]).stem + "_inpainted")
        top, left, side = p["window"]
        R = self.inpainter.R
        where = f"window {side}x{side} at ({left}, {top}) -> {R} px"
        panels = [(_enlarge(to_uint8(p["input"] * p["mask"])), f"model input: {where}, hole grey"),
                  (_enlarge(to_uint8(p["output"])), "raw generator output"),
                  (_enlarge(to_uint8(p["composite"])), "composite in the window")]
        if p["seg"] is not None:
            panels.append((_enlarge(colorize_seg(p["seg"], self.inpainter.num_classes)), "predicted segmentation"))
        if p["edge"] is not None:
            panels.append((_enlarge(gray_to_rgb(p["edge"])), "predicted edges"))
        legend = self.legend_html() if p["seg"] is not None else ""
        guided = [n for n, g in (("segmentation", seg), ("edges", edge)) if g is not None]
        status = (f"Inpainted {W}x{H} ({result.mode}), hole ratio {hole_ratio(known):.2f}"
                  + (f", guided by {' and '.join(guided)}" if guided else "") + ". Known pixels are the input's."
                  + "".join(f"\n\nNote: {n}." for n in notes))
        return _for_display(result), path, panels, legend, status

    def legend_html(self) -> str:
        return legend_html(self.class_names)

    # ------------------------------------------------------------------------------- comparisons
    @_guarded(3)
    def compare_telea(self, state: dict | None, editor: EditorValue | None) -> tuple[np.ndarray, str, str]:
        img, known = self.inputs(state, editor)
        out = telea(img, known)
        path = save_png(out, self.out_dir, Path(state["name"]).stem + "_telea")
        return _for_display(out), path, "Telea (OpenCV fast marching) at full resolution."

    @_guarded(3)
    def compare_optim(self, state: dict | None, editor: EditorValue | None, steps: int, session: str = "",
                      progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, str, str]:
        """W+ optimisation in the model's window; `cancel(session)` stops it between two steps."""
        img, known = self.inputs(state, editor)
        steps = int(steps)
        if steps < 1:
            raise InputError("the number of optimisation steps must be at least 1")
        token = self._start(session)
        try:
            with self.lock:
                out = optim_inversion(self.inpainter, img, known, steps, progress, token)
        finally:
            self._finish(session, token)
        path = save_png(out, self.out_dir, Path(state["name"]).stem + "_optim")
        return (_for_display(out), path,
                f"Optimisation-based inversion: {steps} Adam steps on W+ of the model's generator.")

    def cancel(self, session: str = "") -> str:
        with self._jobs_lock:
            token = self._jobs.get(session)
        if token is None:
            return "Nothing to cancel."
        token.cancel()
        return "Cancelling…"

    def _start(self, session: str) -> CancelToken:
        token = CancelToken()
        with self._jobs_lock:
            self._jobs[session] = token
        return token

    def _finish(self, session: str, token: CancelToken) -> None:
        with self._jobs_lock:
            if self._jobs.get(session) is token:
                del self._jobs[session]

    # ------------------------------------------------------------------------------- sampling
    @_guarded(3)
    def sample(self, state: dict | None, editor: EditorValue | None, n: int,
               seed: int) -> tuple[list, list[str], str]:
        """`n` fills of the hole drawn by the model from `seed` (the same seed gives the same fills) ->
        (gallery [(image for display, caption)], PNG paths at the input's size, status)."""
        if not self.can_sample:
            raise InputError(f"{self.inpainter.model_name} gives one fill per input; diverse fills need a model "
                             "that samples (e.g. a DiverseInversion checkpoint)")
        n, seed = int(n), int(seed)
        if n < 1:
            raise InputError("the number of fills must be at least 1")
        img, known = self.inputs(state, editor)
        with self.lock:
            fills = self.inpainter(img, known.astype(np.uint8) * 255, num_samples=n, seed=seed)
        fills = fills if n > 1 else [fills]
        stem = Path(state["name"]).stem
        paths = [save_png(f, self.out_dir, f"{stem}_seed{seed}_fill{i}") for i, f in enumerate(fills)]
        gallery = [(_for_display(f), f"seed {seed}, fill {i}") for i, f in enumerate(fills)]
        return gallery, paths, (f"{n} fills from {self.inpainter.model_name} (seed {seed}), hole ratio "
                                f"{hole_ratio(known):.2f}. Known pixels are the input's.")

def model_summary(inpainter: Inpainter, name: str) -> str:
    m = inpainter.model
    n = sum(p.numel() for p in m.parameters())
    names = {"seg": "segmentation", "edge": "edges"}
    modalities = [names[k] for k in getattr(m.encoder, "modalities", ()) if k in names]
    kind = f"multimodal ({' + '.join(modalities)})" if modalities else "RGB only"
    if inpainter.can_sample:
        kind += ", draws diverse fills"
    return f"{name}: {type(m).__name__}, {inpainter.R} px, {kind}, {n / 1e6:.1f} M parameters, on {inpainter.device}"

