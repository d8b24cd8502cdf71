"""Start the app: `mminvert app [ckpt=...] [port=7860] [host=127.0.0.1]` or `mminvert.app.launch(...)`."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .callbacks import InpaintApp
from .examples import folder_images, render_scenes
from .model import load_model

__all__ = ["create_app", "launch"]

log = logging.getLogger(__name__)


def create_app(ckpt: str | os.PathLike | None = None, examples: str | os.PathLike | None = None,
               device: str = "auto", out_dir: str | os.PathLike | None = None) -> InpaintApp:
    """The callbacks' state: the model (None = the bundled scenes inpainter), the rendered scenes plus the
    images of the `examples` folder."""
    inpainter, class_names, path = load_model(ckpt, device)
    pictures = render_scenes() + (folder_images(examples) if examples else [])
    return InpaintApp(inpainter, class_names, pictures, out_dir, model_name=Path(path).name)


def launch(ckpt: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 7860,
           examples: str | os.PathLike | None = None, device: str = "auto", block: bool = True,
           **launch_kwargs: Any):
    """Serve the page on http://host:port (loopback by default; host=0.0.0.0 exposes it to the network).
    `block=False` returns the running Gradio Blocks (close it with `.close()`)."""
    from .ui import CSS, THEME, build_ui  # imports gradio (the `app` extra)

    app = create_app(ckpt, examples, device)
    demo = build_ui(app)
    demo.queue(default_concurrency_limit=1)
    allowed = [str(p.parent) for p in app.examples] + [str(app.out_dir)]
    demo.launch(server_name=host, server_port=int(port), share=False, inbrowser=False, ssr_mode=False,
                prevent_thread_lock=not block, allowed_paths=sorted(set(allowed)), max_file_size="64mb",
                show_error=False, footer_links=[], theme=THEME, css=CSS, quiet=not block, **launch_kwargs)
    return demo
