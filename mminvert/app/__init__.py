"""The interactive inpainting app (`mminvert app`): a local web page on Gradio (the `app` extra).

`launch(ckpt=None, host="127.0.0.1", port=7860)` serves it; `create_app` builds the callbacks without a
server (tests); `mminvert.app.ui.build_ui` builds the page. Importing this package does not import Gradio.
"""
from .callbacks import InpaintApp
from .launch import create_app, launch

__all__ = ["InpaintApp", "create_app", "launch"]
