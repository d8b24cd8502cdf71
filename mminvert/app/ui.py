"""The page: Gradio Blocks wired to `InpaintApp`'s callbacks.

The page, top to bottom: the model's summary; the image column (upload, examples, mask presets, guidance,
Inpaint) beside the mask editor; the status line; the result with the model's panels; the comparisons (Telea,
the optimisation-based inversion); and, for a model that samples, the diverse fills. `build_ui` lays these out
in that order (one function each) and then wires their events.

Every event that touches the model runs in one queue (`concurrency_id="model"`, limit 1), so two tabs that
submit together are served one after the other; Cancel skips the queue. Gradio's analytics are off and the
theme uses system fonts: the page loads nothing from outside the server.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no usage reports
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from .callbacks import InpaintApp, model_summary  # noqa: E402
from .masks import PAINT_RGBA, PRESETS  # noqa: E402

__all__ = ["build_ui", "THEME", "CSS"]

THEME = gr.themes.Default(font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])
# Small results fill their box (the file stays at the input's size); pixels stay sharp when enlarged.
CSS = "#result img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"
MODEL_QUEUE = dict(concurrency_limit=1, concurrency_id="model")
_PAINT = "#{:02x}{:02x}{:02x}".format(*PAINT_RGBA[:3])


@dataclass
class ImageInputs:
    """The image column and the mask editor."""

    upload: gr.File
    examples: gr.Gallery
    preset_kind: gr.Radio
    preset_ratio: gr.Slider
    preset_seed: gr.Number
    apply_preset: gr.Button
    clear_mask: gr.Button
    seg_file: gr.File
    edge_file: gr.File
    run: gr.Button
    editor: gr.ImageEditor


@dataclass
class ResultOutputs:
    """The completed image, the model's panels with the class legend, and the download."""

    result: gr.Image
    panels: gr.Gallery
    legend: gr.HTML
    download: gr.DownloadButton


@dataclass
class Comparisons:
    """Telea and the optimisation-based inversion, each with its image and download."""

    telea: gr.Button
    telea_image: gr.Image
    telea_file: gr.DownloadButton
    steps: gr.Slider
    optim: gr.Button
    cancel: gr.Button
    optim_image: gr.Image
    optim_file: gr.DownloadButton


@dataclass
class DiverseFills:
    """N fills of the hole drawn from a seed, for models that sample."""

    count: gr.Slider
    seed: gr.Number
    sample: gr.Button
    gallery: gr.Gallery
    files: gr.File


def build_ui(app: InpaintApp) -> gr.Blocks:
    """The page of `app`; the diverse-fills panel is built only when its model samples (`app.can_sample`)."""
    with gr.Blocks(title="mminvert inpainting", analytics_enabled=False) as demo:
        gr.Markdown(f"## mminvert — image inpainting\n{model_summary(app.inpainter, app.model_name)}")
        state = gr.State(None)
        inputs = _image_inputs(app)
        status = gr.Markdown("Load an image or pick an example.", elem_id="status")
        outputs = _result_outputs()
        comparisons = _comparisons()
        diverse = _diverse_fills() if app.can_sample else None

        _wire_image_inputs(app, state, inputs, status)
        _wire_inpaint(app, state, inputs, outputs, status)
        _wire_comparisons(app, state, inputs.editor, comparisons, status)
        if diverse is not None:
            _wire_diverse_fills(app, state, inputs.editor, diverse, status)
    return demo


# ------------------------------------------------------------------------------------------------ layout
def _image_inputs(app: InpaintApp) -> ImageInputs:
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(label="Load an image", file_types=["image"], type="filepath", elem_id="upload")
            examples = gr.Gallery(value=[(str(p), p.name) for p in app.examples], label="Examples",
                                  columns=4, height=200, allow_preview=False, elem_id="examples")
            presets = _mask_presets()
            seg_file, edge_file = _guidance_uploads(app)
            run = gr.Button("Inpaint", variant="primary", elem_id="run")
        with gr.Column(scale=2):
            editor = _mask_editor()
    return ImageInputs(upload, examples, *presets, seg_file, edge_file, run, editor)


def _mask_presets() -> tuple[gr.Radio, gr.Slider, gr.Number, gr.Button, gr.Button]:
    """(kind, hole ratio, seed, apply button, clear button)."""
    with gr.Accordion("Mask presets", open=True):
        kind = gr.Radio(list(PRESETS), value="box", label="Preset")
        ratio = gr.Slider(0.05, 0.9, value=0.3, step=0.05, label="Hole ratio")
        seed = gr.Number(value=0, precision=0, label="Seed")
        with gr.Row():
            apply_preset = gr.Button("Apply preset", elem_id="apply-preset")
            clear = gr.Button("Clear mask")
    return kind, ratio, seed, apply_preset, clear


def _guidance_uploads(app: InpaintApp) -> tuple[gr.File, gr.File]:
    """(segmentation file, edge file); the accordion shows for multimodal models only."""
    with gr.Accordion("Guidance (optional)", open=False, visible=app.multimodal):
        gr.Markdown("A label map (class indices, or the legend's colours) and / or an edge map "
                    "(white = edge) of the whole image. Given maps are used everywhere (their "
                    "masks are all-one); without them the model predicts both.")
        seg_file = gr.File(label="Segmentation guidance", file_types=["image"], type="filepath")
        edge_file = gr.File(label="Edge guidance", file_types=["image"], type="filepath")
        gr.HTML(app.legend_html())
    return seg_file, edge_file


def _mask_editor() -> gr.ImageEditor:
    return gr.ImageEditor(
        label="Paint the hole (brush), fix it (eraser); the brush size is in the brush menu",
        type="numpy", image_mode="RGBA", sources=[], transforms=[], format="png", layers=False,
        brush=gr.Brush(default_size=24, colors=[(_PAINT, PAINT_RGBA[3] / 255)], color_mode="fixed"),
        eraser=gr.Eraser(default_size=24), height=560, elem_id="editor")


def _result_outputs() -> ResultOutputs:
    with gr.Row():
        result = gr.Image(label="Completed image", type="numpy", format="png", interactive=False,
                          height=420, elem_id="result")
        with gr.Column():
            panels = gr.Gallery(label="What the model saw and predicted", columns=3, height=420,
                                format="png", elem_id="panels")
            legend = gr.HTML()
            download = gr.DownloadButton("Download PNG (input size)", elem_id="download")
    return ResultOutputs(result, panels, legend, download)


def _comparisons() -> Comparisons:
    with gr.Accordion("Compare with other methods", open=False), gr.Row():
        with gr.Column():
            telea = gr.Button("Telea (OpenCV)")
            telea_image = gr.Image(label="Telea", type="numpy", format="png", interactive=False)
            telea_file = gr.DownloadButton("Download Telea PNG")
        with gr.Column():
            steps = gr.Slider(10, 2000, value=200, step=10, label="Optimisation steps")
            with gr.Row():
                optim = gr.Button("Optimisation-based inversion")
                cancel = gr.Button("Cancel", variant="stop")
            optim_image = gr.Image(label="Optimisation-based inversion", type="numpy", format="png",
                                   interactive=False)
            optim_file = gr.DownloadButton("Download inversion PNG")
    return Comparisons(telea, telea_image, telea_file, steps, optim, cancel, optim_image, optim_file)


def _diverse_fills() -> DiverseFills:
    with gr.Accordion("Diverse fills", open=True, elem_id="diverse-fills"):
        gr.Markdown("This model draws a different fill of the hole for every random code: N fills from a "
                    "seed (the same seed gives the same fills), each keeping the known pixels.")
        with gr.Row():
            count = gr.Slider(1, 16, value=4, step=1, label="N")
            seed = gr.Number(value=0, precision=0, label="Seed")
            sample = gr.Button("Sample", elem_id="sample")
        gallery = gr.Gallery(label="Fills", columns=4, format="png", elem_id="fills")
        files = gr.File(label="Download the fills (input size)", file_count="multiple", interactive=False,
                        elem_id="fill-files")
    return DiverseFills(count, seed, sample, gallery, files)


# ------------------------------------------------------------------------------------------------ events
def _wire_image_inputs(app: InpaintApp, state: gr.State, inputs: ImageInputs, status: gr.Markdown) -> None:
    """Loading an upload or an example, and the mask presets."""

    def load(path):  # the file box empties itself after each load, ready for the next file
        return (*app.load(path), None)

    inputs.upload.upload(load, [inputs.upload], [inputs.editor, state, status, inputs.upload])

    def pick(evt: gr.SelectData):
        return app.load_example(evt.index)

    inputs.examples.select(pick, None, [inputs.editor, state, status])
    inputs.apply_preset.click(app.preset, [state, inputs.preset_kind, inputs.preset_ratio, inputs.preset_seed],
                              [inputs.editor, status])
    inputs.clear_mask.click(app.clear_mask, [state], [inputs.editor, status])


def _wire_inpaint(app: InpaintApp, state: gr.State, inputs: ImageInputs, outputs: ResultOutputs,
                  status: gr.Markdown) -> None:
    inputs.run.click(app.inpaint, [state, inputs.editor, inputs.seg_file, inputs.edge_file],
                     [outputs.result, outputs.download, outputs.panels, outputs.legend, status], **MODEL_QUEUE)


def _wire_comparisons(app: InpaintApp, state: gr.State, editor: gr.ImageEditor, c: Comparisons,
                      status: gr.Markdown) -> None:
    """Telea; the inversion with its progress bar, and Cancel (outside the queue) for this tab's inversion."""
    c.telea.click(app.compare_telea, [state, editor], [c.telea_image, c.telea_file, status], **MODEL_QUEUE)

    def optim(s, e, n, request: gr.Request, progress=gr.Progress()):  # noqa: B008 — Gradio's idiom
        return app.compare_optim(s, e, n, request.session_hash or "",
                                 lambda i, total: progress((i, total), desc="W+ optimisation"))

    optim_event = c.optim.click(optim, [state, editor, c.steps], [c.optim_image, c.optim_file, status],
                                **MODEL_QUEUE)

    def cancel(request: gr.Request):
        return app.cancel(request.session_hash or "")

    c.cancel.click(cancel, None, [status], cancels=[optim_event], queue=False)


def _wire_diverse_fills(app: InpaintApp, state: gr.State, editor: gr.ImageEditor, d: DiverseFills,
                        status: gr.Markdown) -> None:
    d.sample.click(app.sample, [state, editor, d.count, d.seed], [d.gallery, d.files, status], **MODEL_QUEUE)
