"""The page: Gradio Blocks wired to `InpaintApp`'s callbacks.

Every event that touches the model runs in one queue (`concurrency_id="model"`, limit 1), so two tabs that
submit together are served one after the other; Cancel skips the queue. Gradio's analytics are off and the
theme uses system fonts: the page loads nothing from outside the server.
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no usage reports
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from .callbacks import InpaintApp, model_summary  # noqa: E402
from .masks import PAINT_RGBA, PRESETS  # noqa: E402
from .methods import SAMPLERS  # noqa: E402

__all__ = ["build_ui", "THEME", "CSS"]

THEME = gr.themes.Default(font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])
# Small results fill their box (the file stays at the input's size); pixels stay sharp when enlarged.
CSS = "#result img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"
MODEL_QUEUE = dict(concurrency_limit=1, concurrency_id="model")
_PAINT = "#{:02x}{:02x}{:02x}".format(*PAINT_RGBA[:3])


def _sampler_note() -> str:
    if SAMPLERS:
        return "\n".join(f"- **{s.name}**: {s.description}" for s in SAMPLERS.values())
    return ("No method that samples is installed: MMInvertFill, Telea and the optimisation-based inversion each "
            "give one fill. A sampling method registers with `mminvert.app.methods.register_sampler` and then "
            "shows N fills for a seed here.")


def build_ui(app: InpaintApp) -> gr.Blocks:
    with gr.Blocks(title="mminvert inpainting", analytics_enabled=False) as demo:
        gr.Markdown(f"## mminvert — image inpainting\n{model_summary(app.inpainter, app.model_name)}")
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                upload = gr.File(label="Load an image", file_types=["image"], type="filepath", elem_id="upload")
                examples = gr.Gallery(value=[(str(p), p.name) for p in app.examples], label="Examples",
                                      columns=4, height=200, allow_preview=False, elem_id="examples")
                with gr.Accordion("Mask presets", open=True):
                    kind = gr.Radio(list(PRESETS), value="box", label="Preset")
                    ratio = gr.Slider(0.05, 0.9, value=0.3, step=0.05, label="Hole ratio")
                    seed = gr.Number(value=0, precision=0, label="Seed")
                    with gr.Row():
                        apply_preset = gr.Button("Apply preset", elem_id="apply-preset")
                        clear = gr.Button("Clear mask")
                with gr.Accordion("Guidance (optional)", open=False, visible=app.multimodal):
                    gr.Markdown("A label map (class indices, or the legend's colours) and / or an edge map "
                                "(white = edge) of the whole image. Given maps are used everywhere (their "
                                "masks are all-one); without them the model predicts both.")
                    seg_file = gr.File(label="Segmentation guidance", file_types=["image"], type="filepath")
                    edge_file = gr.File(label="Edge guidance", file_types=["image"], type="filepath")
                    gr.HTML(app.legend_html())
                run = gr.Button("Inpaint", variant="primary", elem_id="run")
            with gr.Column(scale=2):
                editor = gr.ImageEditor(
                    label="Paint the hole (brush), fix it (eraser); the brush size is in the brush menu",
                    type="numpy", image_mode="RGBA", sources=[], transforms=[], format="png", layers=False,
                    brush=gr.Brush(default_size=24, colors=[(_PAINT, PAINT_RGBA[3] / 255)], color_mode="fixed"),
                    eraser=gr.Eraser(default_size=24), height=560, elem_id="editor")
        status = gr.Markdown("Load an image or pick an example.", elem_id="status")
        with gr.Row():
            result = gr.Image(label="Completed image", type="numpy", format="png", interactive=False,
                              height=420, elem_id="result")
            with gr.Column():
                panels = gr.Gallery(label="What the model saw and predicted", columns=3, height=420,
                                    format="png", elem_id="panels")
                legend = gr.HTML()
                download = gr.DownloadButton("Download PNG (input size)", elem_id="download")
        with gr.Accordion("Compare with other methods", open=False):
            with gr.Row():
                with gr.Column():
                    telea_btn = gr.Button("Telea (OpenCV)")
                    telea_img = gr.Image(label="Telea", type="numpy", format="png", interactive=False)
                    telea_file = gr.DownloadButton("Download Telea PNG")
                with gr.Column():
                    steps = gr.Slider(10, 2000, value=200, step=10, label="Optimisation steps")
                    with gr.Row():
                        optim_btn = gr.Button("Optimisation-based inversion")
                        cancel_btn = gr.Button("Cancel", variant="stop")
                    optim_img = gr.Image(label="Optimisation-based inversion", type="numpy", format="png",
                                         interactive=False)
                    optim_file = gr.DownloadButton("Download inversion PNG")
        with gr.Accordion("Diverse fills (methods that sample)", open=False):
            gr.Markdown(_sampler_note())
            has = bool(SAMPLERS)
            with gr.Row():
                sampler = gr.Dropdown(list(SAMPLERS), value=next(iter(SAMPLERS), None), label="Method",
                                      interactive=has)
                n_samples = gr.Slider(1, 16, value=4, step=1, label="N", interactive=has)
                sample_seed = gr.Number(value=0, precision=0, label="Seed", interactive=has)
                sample_btn = gr.Button("Sample", interactive=has)
            samples = gr.Gallery(label="Fills", columns=4, format="png")

        # ---------------------------------------------------------------- events
        def load(path):  # the file box empties itself after each load, ready for the next file
            return (*app.load(path), None)

        upload.upload(load, [upload], [editor, state, status, upload])

        def pick(evt: gr.SelectData):
            return app.load_example(evt.index)

        examples.select(pick, None, [editor, state, status])
        apply_preset.click(app.preset, [state, kind, ratio, seed], [editor, status])
        clear.click(app.clear_mask, [state], [editor, status])
        run.click(app.inpaint, [state, editor, seg_file, edge_file], [result, download, panels, legend, status],
                  **MODEL_QUEUE)
        telea_btn.click(app.compare_telea, [state, editor], [telea_img, telea_file, status], **MODEL_QUEUE)

        def optim(s, e, n, request: gr.Request, progress=gr.Progress()):  # noqa: B008 — Gradio's idiom
            return app.compare_optim(s, e, n, request.session_hash or "",
                                     lambda i, total: progress((i, total), desc="W+ optimisation"))

        optim_event = optim_btn.click(optim, [state, editor, steps], [optim_img, optim_file, status], **MODEL_QUEUE)

        def cancel(request: gr.Request):
            return app.cancel(request.session_hash or "")

        cancel_btn.click(cancel, None, [status], cancels=[optim_event], queue=False)
        sample_btn.click(app.sample, [state, editor, sampler, n_samples, sample_seed], [samples, status],
                         **MODEL_QUEUE)
    return demo

