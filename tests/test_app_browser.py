"""The app in a real browser: headless Chromium (Debian's package) driven by Playwright.

Starts the app with the bundled model on 127.0.0.1, uploads an image, paints a stroke, runs, and checks the
result (size, known pixels bit-identical to the input), the queue (two tabs submitting together), a bad
upload (a message in the page), and that the page requests nothing outside the server. Writes
docs/app_screenshot.png. Skipped with the reason where Playwright or Chromium is missing:
`make test-browser` installs both.
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the app extra is not installed (pip install -e '.[app]')")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright is not installed (make test-browser installs it)")

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "app_screenshot.png"
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


def _chromium() -> str | None:
    for c in (os.environ.get("MMINVERT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if c and shutil.which(c):
            return shutil.which(c)
    return None


CHROMIUM = _chromium()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found (apt-get install chromium, or set MMINVERT_CHROMIUM); "
                             "make test-browser installs it")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(url, app, known maps the model was run with) — the app with the bundled model, in this process."""
    from mminvert.app import create_app
    from mminvert.app.launch import served_paths
    from mminvert.app.ui import CSS, THEME, build_ui

    app = create_app(out_dir=tmp_path_factory.mktemp("out"))
    seen: list[np.ndarray] = []
    inputs = app.inputs

    def spy(state, editor):  # record the mask the page sent (the test compares the download with it)
        img, known = inputs(state, editor)
        seen.append(known)
        return img, known

    app.inputs = spy
    demo = build_ui(app)
    demo.queue(default_concurrency_limit=1)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False,
                share=False, quiet=True, theme=THEME, css=CSS, footer_links=[],
                allowed_paths=served_paths(app))
    yield f"http://127.0.0.1:{port}/", app, seen
    demo.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _page(browser, url, external):
    page = browser.new_page(viewport={"width": 1400, "height": 1250})

    def route(r):
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:  # nothing may leave the machine: record and block
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_selector("#upload input[type=file]", state="attached", timeout=120_000)
    return page


def _status(page, pattern: str, timeout: float = 300_000) -> str:
    page.wait_for_function(f"document.querySelector('#status').innerText.match(/{pattern}/)", timeout=timeout)
    return page.inner_text("#status")


def _load_and_stroke(page, path: Path) -> tuple[float, float]:
    page.set_input_files("#upload input[type=file]", str(path))
    _status(page, "Loaded", 120_000)
    page.click("#editor button[aria-label='Brush']")
    canvas = page.locator("#editor canvas").first.bounding_box()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    page.mouse.move(cx - 120, cy - 20)
    page.mouse.down()
    for i in range(25):
        page.mouse.move(cx - 120 + 10 * i, cy - 20 + 2 * i)
    page.mouse.up()
    return cx, cy


def _test_image(tmp_path: Path) -> Path:
    """A 150x100 (W x H) scene: not square, not the model's 64 px."""
    from mminvert.data import ScenesSource

    img = ScenesSource("test", 150, seed=3).load(0)[0][25:125]
    path = tmp_path / "scene_150x100.png"
    Image.fromarray(img).save(path)
    return path


def test_upload_paint_run_download(served, browser, tmp_path):
    url, app, seen = served
    external: list[str] = []
    page = _page(browser, url, external)
    src = _test_image(tmp_path)
    _load_and_stroke(page, src)
    page.click("#run")
    status = _status(page, "Inpainted|⚠")
    assert status.startswith("Inpainted 150x100"), status
    size = page.wait_for_function("(() => { const i = document.querySelector('#result img'); "
                                  "return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight] "
                                  ": null })()", timeout=60_000).json_value()
    assert size == [150, 100]
    with page.expect_download() as dl:
        page.click("#download")
    out_path = tmp_path / "downloaded.png"
    dl.value.save_as(out_path)
    out, inp = np.asarray(Image.open(out_path)), np.asarray(Image.open(src))
    known = seen[-1]
    assert out.shape == inp.shape == (100, 150, 3)
    assert 0.02 < 1 - known.mean() < 0.9                 # the stroke made a hole of plausible size
    ys, xs = np.nonzero(~known)
    assert abs(ys.mean() - 50) < 30 and abs(xs.mean() - 75) < 45  # where it was drawn (centre of the canvas)
    assert np.array_equal(out[known], inp[known])         # known pixels bit-identical
    assert (out[~known] != inp[~known]).any(axis=-1).mean() > 0.5  # the hole was filled
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert external == [], f"the page requested outside addresses: {external}"
    page.close()


def test_two_tabs_submit_together(served, browser, tmp_path):
    url, app, seen = served
    external: list[str] = []
    src = _test_image(tmp_path)
    pages = [_page(browser, url, external) for _ in range(2)]
    for page in pages:
        _load_and_stroke(page, src)
    for page in pages:  # both requests are queued before either finishes
        page.click("#run")
    for page in pages:
        assert _status(page, "Inpainted|⚠").startswith("Inpainted 150x100")
    assert external == []
    for page in pages:
        page.close()


def test_bad_upload_and_empty_mask_give_messages(served, browser, tmp_path):
    url, _, _ = served
    page = _page(browser, url, [])
    page.click("#run")
    assert "load an image first" in _status(page, "⚠")
    bad = tmp_path / "not_an_image.png"
    bad.write_text("this is text, not a PNG")
    page.set_input_files("#upload input[type=file]", str(bad))
    msg = _status(page, "⚠.*not an image")
    assert "Traceback" not in page.content()
    page.set_input_files("#upload input[type=file]", str(_test_image(tmp_path)))
    _status(page, "Loaded")
    page.click("#run")
    assert "mask is empty" in _status(page, "⚠.*mask")
    assert "not_an_image.png" in msg
    page.close()
