"""Start the app: `mminvert app [ckpt=...] [port=7860] [host=127.0.0.1]` or `mminvert.app.launch(...)`.

What the server hands out (`served_paths`): the example images (copies in a temporary folder, see examples.py),
the results the page wrote (its own temporary output folder) and Gradio's cache of uploads. Nothing else — no
file of the examples folder other than its images, none of its subfolders, nothing of the working directory.
"""
from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

from .callbacks import InpaintApp
from .examples import folder_images, render_scenes
from .model import load_model

__all__ = ["create_app", "launch", "serve", "served_paths", "is_loopback", "warn_if_exposed", "AUTH_ENV"]

log = logging.getLogger(__name__)
AUTH_ENV = "MMINVERT_APP_AUTH"  # "user:password": Gradio's login page in front of the app


def create_app(ckpt: str | os.PathLike | None = None, examples: str | os.PathLike | None = None,
               device: str = "auto", out_dir: str | os.PathLike | None = None) -> InpaintApp:
    """The callbacks' state: the model (None = the bundled scenes inpainter), the rendered scenes plus copies of
    the images of the `examples` folder."""
    inpainter, class_names, path = load_model(ckpt, device)
    pictures = render_scenes() + (folder_images(examples) if examples else [])
    return InpaintApp(inpainter, class_names, pictures, out_dir, model_name=Path(path).name)


def served_paths(app: InpaintApp) -> list[str]:
    """Gradio's `allowed_paths`: each example image file by its exact path, and the page's output folder."""
    return sorted({str(p.resolve()) for p in app.examples} | {str(Path(app.out_dir).resolve())})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def warn_if_exposed(host: str, port: int, auth: Any) -> None:
    """A loud warning when `host` is not a loopback address (anyone on the network reaches the page)."""
    if is_loopback(host):
        return
    login = ("it asks for the login you set" if auth else
             f"there is NO login: set {AUTH_ENV}=user:password (or pass auth=(user, password) to launch) to put "
             "Gradio's login page in front of it, or keep host=127.0.0.1 and reach it through an SSH tunnel")
    log.warning("mminvert app: host=%s: the page listens beyond this machine, on port %d of %s: anyone who can "
                "reach it can run the model, upload images and download the results; %s.", host, port,
                "every network interface" if host in ("0.0.0.0", "::") else host, login)


def _auth_from_env() -> tuple[str, str] | None:
    value = os.environ.get(AUTH_ENV)
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError(f"{AUTH_ENV} must be user:password, got a value without both parts")
    return user, password


def serve(app: InpaintApp, host: str = "127.0.0.1", port: int = 7860, block: bool = True, **launch_kwargs: Any):
    """Serve `app`'s page on http://host:port; warns loudly when `host` is not a loopback address. `auth`
    (Gradio's: a (user, password) pair, a list of them or a function) defaults to $MMINVERT_APP_AUTH."""
    from .ui import CSS, THEME, build_ui  # imports gradio (the `app` extra)

    launch_kwargs.setdefault("auth", _auth_from_env())
    warn_if_exposed(host, int(port), launch_kwargs["auth"])
    demo = build_ui(app)
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=int(port), share=False, inbrowser=False, ssr_mode=False,
                prevent_thread_lock=not block, allowed_paths=served_paths(app), max_file_size="64mb",
                show_error=False, footer_links=[], theme=THEME, css=CSS, quiet=not block, **launch_kwargs)
    return demo


def launch(ckpt: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 7860,
           examples: str | os.PathLike | None = None, device: str = "auto", block: bool = True,
           **launch_kwargs: Any):
    """Serve the page on http://host:port (loopback by default; host=0.0.0.0 exposes it to the network, with a
    warning). `block=False` returns the running Gradio Blocks (close it with `.close()`)."""
    return serve(create_app(ckpt, examples, device), host, port, block, **launch_kwargs)
