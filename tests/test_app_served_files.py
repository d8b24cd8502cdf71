"""The app's server hands out the example images and nothing else of the examples folder: its other files
and its subfolders cannot be fetched over HTTP (a real server on 127.0.0.1, fetched with urllib). Binding
beyond loopback warns and says how to add a login."""
from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from mminvert.inference.bundle import save_bundle
from tests.test_inversion import _tiny_model

pytest.importorskip("gradio")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    assert url.startswith("http://127.0.0.1:")  # loopback only
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from mminvert.app import launch

    root = tmp_path_factory.mktemp("app")
    folder = root / "examples"
    (folder / "private").mkdir(parents=True)
    Image.fromarray(np.full((16, 16, 3), 7, np.uint8)).save(folder / "photo.png")
    Image.fromarray(np.full((16, 16, 3), 9, np.uint8)).save(folder / "private" / "other.png")
    (folder / "secret.txt").write_text("the user's secret")
    (folder / "private" / "notes.txt").write_text("private notes")
    (folder / "fake.png").write_text("not an image, named like one")
    save_bundle(_tiny_model(k=5), root / "tiny.pt")
    port = _free_port()
    demo = launch(root / "tiny.pt", host="127.0.0.1", port=port, examples=folder, device="cpu", block=False)
    yield f"http://127.0.0.1:{port}", demo, folder
    demo.close()


def test_only_the_example_images_are_served(served):
    base, demo, folder = served
    for private in ["secret.txt", "private/notes.txt", "private/other.png", "fake.png", "photo.png"]:
        status, body = _get(f"{base}/gradio_api/file={folder / private}")
        assert status == 403 and body == b"", private  # refused, also the original image: only a copy is served
    gallery = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "examples")
    captions = [item["caption"] for item in gallery.value]
    assert captions == [f"scene_{i:02d}_128px.png" for i in range(4)] + ["photo.png"]  # fake.png is not offered
    status, body = _get(base + gallery.value[-1]["image"]["url"])
    assert status == 200 and body == (folder / "photo.png").read_bytes()  # the example itself is served


def test_binding_beyond_loopback_warns_and_names_the_login(caplog, monkeypatch):
    from mminvert.app.launch import AUTH_ENV, is_loopback, warn_if_exposed

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("myhost")
    with caplog.at_level(logging.WARNING, logger="mminvert.app.launch"):
        warn_if_exposed("127.0.0.1", 7860, None)
        assert caplog.text == ""
        warn_if_exposed("0.0.0.0", 7860, None)
    assert "every network interface" in caplog.text and f"NO login: set {AUTH_ENV}=user:password" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mminvert.app.launch"):
        warn_if_exposed("0.0.0.0", 7860, ("user", "pw"))
    assert "asks for the login you set" in caplog.text
