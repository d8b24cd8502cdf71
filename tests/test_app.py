"""The app's callbacks without a browser: masks from paint layers and presets, loading and checking
images, the result panels, the comparisons (with progress and cancel), the diverse fills of a model that
samples, atomic PNG writes, loading bundles and run folders, the CLI, and the float16 bundle. A tiny untrained
model keeps it fast; tests/test_app_browser.py drives the real page."""
from __future__ import annotations

import errno
import io
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mminvert.app import InpaintApp
from mminvert.app import images as app_images
from mminvert.app.callbacks import model_summary
from mminvert.app.masks import PAINT_RGBA, PRESETS, hole_ratio, layer_from_known, mask_from_layers, preset_mask
from mminvert.app.model import load_model, write_fp16_bundle
from mminvert.data.run_data import DATA_RECORD_KEY
from mminvert.data.scenes import SCENE_CLASSES
from mminvert.inference import Inpainter
from mminvert.inference.bundle import save_bundle
from tests.test_diverse_model import _model as _tiny_diverse
from tests.test_inversion import _tiny_model

K = 5
NAMES = [f"class_{k}" for k in range(K)]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return InpaintApp(Inpainter(_tiny_model(k=K)), NAMES, out_dir=tmp_path_factory.mktemp("out"))


def _png(tmp_path, arr, name="img.png", mode=None):
    p = tmp_path / name
    Image.fromarray(arr, mode).save(p)
    return str(p)


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _stroke_layer(h, w, box):
    layer = np.zeros((h, w, 4), np.uint8)
    y0, y1, x0, x1 = box
    layer[y0:y1, x0:x1] = PAINT_RGBA
    return layer


# ------------------------------------------------------------------------------------------- masks
def test_mask_from_layers_paint_is_hole_and_scales_to_the_image():
    layer = _stroke_layer(10, 20, (2, 5, 4, 9))
    known = mask_from_layers([layer], (10, 20))
    assert known.dtype == bool and known.shape == (10, 20)
    assert (~known).sum() == 3 * 5 and not known[2:5, 4:9].any()
    big = mask_from_layers([layer, None], (40, 80))  # the editor showed a 4x smaller preview
    assert (~big).sum() == 3 * 5 * 16 and not big[8:20, 16:36].any()
    assert mask_from_layers([], (4, 4)).all()
    erased = layer.copy()
    erased[..., 3] = 0  # the eraser leaves colour with zero alpha
    assert mask_from_layers([erased], (10, 20)).all()
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[0, 0] = 9
    assert (~mask_from_layers([rgb], (10, 20))).sum() == 1


@pytest.mark.parametrize("kind", PRESETS)
@pytest.mark.parametrize("ratio", [0.1, 0.4, 0.7])
def test_presets_reach_the_hole_ratio_and_repeat_with_the_seed(kind, ratio):
    known = preset_mask(kind, ratio, seed=3, height=90, width=120)
    assert known.shape == (90, 120) and known.dtype == bool
    r = hole_ratio(known)
    if kind == "free-form":
        assert ratio <= r < ratio + 0.2
    else:
        assert abs(r - ratio) < 0.03, (kind, ratio, r)
    assert np.array_equal(known, preset_mask(kind, ratio, 3, 90, 120))
    layer = layer_from_known(known)
    assert np.array_equal(mask_from_layers([layer], (90, 120)), known)


def test_preset_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown mask preset"):
        preset_mask("circle", 0.3, 0, 10, 10)
    with pytest.raises(ValueError, match="hole ratio"):
        preset_mask("box", 1.0, 0, 10, 10)


# ------------------------------------------------------------------------------------------- loading
def test_load_gives_preview_state_and_message(app, tmp_path):
    editor, state, msg = app.load(_png(tmp_path, _rgb(30, 40)))
    assert editor["background"].shape == (30, 40, 3) and editor["layers"] == []
    assert state["size"] == (30, 40) and state["mode"] == "RGB" and "40x30" in msg
    editor, state, msg = app.load(_png(tmp_path, _rgb(1500, 3000), "big.png"))
    assert editor["background"].shape == (512, 1024, 3) and state["size"] == (1500, 3000) and "shown at 1024x512" in msg


def test_bad_inputs_become_messages(app, tmp_path, monkeypatch):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out = app.load(str(text))
    assert out[:2] == (None, None) and out[2].startswith("⚠️") and "not an image" in out[2]
    assert "no such file" in app.load(str(tmp_path / "missing.png"))[2]
    assert "no file given" in app.load(None)[2]
    monkeypatch.setattr(app_images, "MAX_PIXELS", 100)
    assert "megapixels" in app.load(_png(tmp_path, _rgb(20, 20)))[2]
    monkeypatch.setattr(app_images, "MAX_FILE_BYTES", 10)
    assert "the limit is" in app.load(_png(tmp_path, _rgb(20, 20)))[2]
    assert "load an image first" in app.inpaint(None, None)[-1]


# ------------------------------------------------------------------------------------------- the model
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_inpaint_keeps_known_pixels_at_input_size(app, tmp_path, mode):
    h, w = 45, 70
    arr = {"RGB": _rgb(h, w), "L": _rgb(h, w)[..., 0], "RGBA": np.dstack([_rgb(h, w), _rgb(h, w, 1)[..., :1]])}[mode]
    _, state, _ = app.load(_png(tmp_path, arr, f"x_{mode}.png", mode))
    editor = {"background": None, "layers": [_stroke_layer(h, w, (10, 30, 20, 50))]}
    display, path, panels, legend, status = app.inpaint(state, editor)
    out = Image.open(path)
    assert out.mode == mode and out.size == (w, h) and status.startswith(f"Inpainted {w}x{h} ({mode})")
    a, known = np.asarray(out), mask_from_layers(editor["layers"], (h, w))
    assert np.array_equal(a[known], arr[known])
    assert (a[~known] != arr[~known]).mean() > 0.3
    assert display.shape[:2] == (h, w)
    assert [c.split(":")[0] for _, c in panels] == ["model input", "raw generator output", "composite in the window",
                                                    "predicted segmentation", "predicted edges"]
    assert all(p.shape == (256, 256, 3) and p.dtype == np.uint8 for p, _ in panels)
    assert all(n in legend for n in NAMES)


def test_large_photo_mask_painted_on_the_preview(app, tmp_path):
    arr = _rgb(1200, 1600)
    editor, state, _ = app.load(_png(tmp_path, arr, "photo.png"))
    ph, pw = editor["background"].shape[:2]
    assert (ph, pw) == (768, 1024)
    editor["layers"] = [_stroke_layer(ph, pw, (300, 400, 500, 600))]
    _, path, _, _, status = app.inpaint(state, editor)
    out = np.asarray(Image.open(path))
    known = mask_from_layers(editor["layers"], (1200, 1600))
    assert out.shape == arr.shape and np.array_equal(out[known], arr[known])
    assert abs(hole_ratio(known) - 100 * 100 / (768 * 1024)) < 1e-3


def test_guidance_uploads_reach_the_model(app, tmp_path):
    h, w = 32, 32
    _, state, _ = app.load(_png(tmp_path, _rgb(h, w)))
    editor = {"layers": [_stroke_layer(h, w, (8, 24, 8, 24))]}
    plain = np.asarray(Image.open(app.inpaint(state, editor)[1]))
    labels = np.zeros((16, 16), np.uint8)
    labels[8:] = 3
    edges = np.zeros((h, w), np.uint8)
    edges[16] = 255
    _, path, _, _, status = app.inpaint(state, editor, _png(tmp_path, labels, "seg.png", "L"),
                                        _png(tmp_path, edges, "edge.png", "L"))
    assert "guided by segmentation and edges" in status and "resized" in status  # 16 px label map was scaled
    assert not np.array_equal(np.asarray(Image.open(path)), plain)
    empty = _png(tmp_path, np.full((h, w), 200, np.uint8), "bad_seg.png", "L")
    assert "holds no label" in app.inpaint(state, editor, empty)[-1]


def test_inspect_matches_call_and_reports_the_window():
    inp = Inpainter(_tiny_model(k=K))
    img = _rgb(40, 90)
    mask = np.full((40, 90), 255, np.uint8)
    mask[10:20, 60:80] = 0
    p = inp.inspect(img, mask)
    assert np.array_equal(p["result"], inp(img, mask))
    R = inp.R
    assert p["input"].shape == p["output"].shape == p["composite"].shape == (3, R, R)
    assert p["seg"].shape == (R, R) and p["seg"].dtype == torch.int64 and 0 <= int(p["seg"].max()) < K
    assert p["edge"].shape == (R, R) and 0 <= float(p["edge"].min()) and float(p["edge"].max()) <= 1
    top, left, side = p["window"]
    assert side >= R and 0 <= left <= 60 and left + side >= 80
    m = p["mask"]
    assert torch.equal(p["composite"] * m, p["input"] * m)
    assert inp.inspect(img, np.full((40, 90), 255, np.uint8))["window"] is None


# ------------------------------------------------------------------------------------------- comparisons
def test_telea_keeps_known_pixels(app, tmp_path):
    arr = _rgb(50, 60)
    _, state, _ = app.load(_png(tmp_path, arr))
    editor = {"layers": [_stroke_layer(50, 60, (10, 20, 10, 40))]}
    _, path, status = app.compare_telea(state, editor)
    out, known = np.asarray(Image.open(path)), mask_from_layers(editor["layers"], (50, 60))
    assert "Telea" in status and np.array_equal(out[known], arr[known]) and (out[~known] != arr[~known]).any()


def test_optim_inversion_progress_and_cancel(app, tmp_path):
    arr = _rgb(40, 40)
    _, state, _ = app.load(_png(tmp_path, arr))
    editor = {"layers": [_stroke_layer(40, 40, (10, 30, 10, 30))]}
    calls = []
    _, path, status = app.compare_optim(state, editor, 3, "tab-a", lambda i, n: calls.append((i, n)))
    assert calls == [(1, 3), (2, 3), (3, 3)] and "3 Adam steps" in status
    out, known = np.asarray(Image.open(path)), mask_from_layers(editor["layers"], (40, 40))
    assert np.array_equal(out[known], arr[known])
    calls.clear()

    def cancel_at_two(i, n):
        calls.append(i)
        if i == 2:
            assert app.cancel("tab-b") == "Nothing to cancel."  # another tab's Cancel does not stop it
            assert app.cancel("tab-a") == "Cancelling…"

    result = app.compare_optim(state, editor, 50, "tab-a", cancel_at_two)
    assert result == (None, None, "Cancelled.") and calls == [1, 2]
    assert app.cancel("tab-a") == "Nothing to cancel."


def test_requests_share_the_model_one_at_a_time(app, tmp_path):
    _, state, _ = app.load(_png(tmp_path, _rgb(40, 40)))
    editor = {"layers": [_stroke_layer(40, 40, (5, 25, 5, 25))]}
    inside, peak, results = [0], [0], []
    forward = app.inpainter.model.forward

    def counting(batch):
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        try:
            return forward(batch)
        finally:
            inside[0] -= 1

    app.inpainter.model.forward = counting
    try:
        threads = [threading.Thread(target=lambda: results.append(app.inpaint(state, editor)[-1])) for _ in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    finally:
        del app.inpainter.model.forward
    assert peak[0] == 1 and len(results) == 3 and all(r.startswith("Inpainted") for r in results)


# ------------------------------------------------------------------------------------------- diverse fills
@pytest.fixture(scope="module")
def diverse_app(tmp_path_factory):
    """The app serving a tiny untrained DiverseInversion, loaded from a bundle by the app's model layer."""
    root = tmp_path_factory.mktemp("diverse")
    inpainter, names, path = load_model(save_bundle(_tiny_diverse(), root / "diverse.pt"), "cpu")
    return InpaintApp(inpainter, names, out_dir=root / "out", model_name=path.name)


def test_diverse_model_draws_k_distinct_fills_keeping_known_pixels(diverse_app, tmp_path):
    arr = _rgb(40, 48)
    _, state, _ = diverse_app.load(_png(tmp_path, arr, "photo.png"))
    editor = {"layers": [_stroke_layer(40, 48, (8, 30, 10, 36))]}
    known = mask_from_layers(editor["layers"], (40, 48))
    assert diverse_app.can_sample
    gallery, paths, status = diverse_app.sample(state, editor, 4, 7)
    assert status.startswith("4 fills from DiverseInversion (seed 7)") and len(gallery) == len(paths) == 4
    fills = [np.asarray(Image.open(p)) for p in paths]
    for (shown, caption), fill, i in zip(gallery, fills, range(4)):
        assert fill.shape == arr.shape and np.array_equal(fill[known], arr[known])
        assert np.array_equal(shown, fill) and caption == f"seed 7, fill {i}"
    hole = [f[~known].astype(int) for f in fills]
    assert min(np.abs(hole[a] - hole[b]).mean() for a in range(4) for b in range(a)) > 1  # four different fills
    again = [np.asarray(Image.open(p)) for p in diverse_app.sample(state, editor, 4, 7)[1]]
    assert all(np.array_equal(f, g) for f, g in zip(fills, again))  # the seed fixes the fills
    other = np.asarray(Image.open(diverse_app.sample(state, editor, 1, 8)[1][0]))
    assert np.abs(other[~known].astype(int) - hole[0]).mean() > 1
    assert "the mask is empty" in diverse_app.sample(state, {"layers": []}, 2, 0)[-1]
    assert "at least 1" in diverse_app.sample(state, editor, 0, 0)[-1]


def test_the_bundled_mminvertfill_offers_no_diverse_fills(app, tmp_path):
    inpainter, names, _ = load_model(None, "cpu")
    bundled = InpaintApp(inpainter, names, out_dir=tmp_path / "out")
    assert type(inpainter.model).__name__ == "MMInvertFill" and names == list(SCENE_CLASSES)
    assert not bundled.can_sample and not app.can_sample
    _, state, _ = bundled.load(_png(tmp_path, _rgb(20, 20)))
    out = bundled.sample(state, {"layers": [_stroke_layer(20, 20, (5, 15, 5, 15))]}, 2, 0)
    assert out[:2] == (None, None) and "MMInvertFill gives one fill per input" in out[2]
    assert not list((tmp_path / "out").glob("*.png"))


def test_page_has_the_diverse_panel_only_for_a_model_that_samples(app, diverse_app):
    pytest.importorskip("gradio", reason="the app extra is not installed")
    from mminvert.app.ui import build_ui

    def ids(a):
        return {getattr(b, "elem_id", None) for b in build_ui(a).blocks.values()}

    assert {"diverse-fills", "sample", "fills", "fill-files"} <= ids(diverse_app)
    assert not {"diverse-fills", "sample", "fills", "fill-files"} & ids(app)
    assert "draws diverse fills" in model_summary(diverse_app.inpainter, "d.pt")
    assert "draws diverse fills" not in model_summary(app.inpainter, "m.pt")


# ------------------------------------------------------------------------------------------- files
def test_a_failed_png_write_leaves_no_file(tmp_path, monkeypatch):
    img = Image.fromarray(_rgb(24, 24))
    real_save = Image.Image.save

    def half_then_disk_full(self, fp, format=None, **params):  # noqa: A002 — PIL's argument name
        buf = io.BytesIO()
        real_save(self, buf, format="PNG")
        Path(fp).write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_then_disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        app_images.save_png(img, tmp_path / "out", "x")
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.undo()
    path = Path(app_images.save_png(img, tmp_path / "out", "x"))
    assert [p.name for p in (tmp_path / "out").iterdir()] == [path.name] and path.name.startswith("x_")
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(img)) and path.stat().st_mode & 0o777 == 0o600


def test_run_folder_checkpoint_loads_with_its_data_records_class_names(tmp_path):
    model = _tiny_model(k=K)
    ckpt = {"mminvert_architecture": model.architecture(), DATA_RECORD_KEY: {"class_names": NAMES},
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.save(ckpt, tmp_path / "run" / "checkpoints" / "last.ckpt")
    inpainter, names, path = load_model(tmp_path / "run", "cpu")
    assert names == NAMES and path == tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert all(torch.equal(a, b) for a, b in zip(inpainter.model.state_dict().values(), model.state_dict().values()))
    del ckpt[DATA_RECORD_KEY]
    torch.save(ckpt, tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert load_model(tmp_path / "run", "cpu")[1] == [f"class {k}" for k in range(K)]


# ------------------------------------------------------------------------------------------- wiring
def test_cli_parses_the_app_command():
    from mminvert.cli import build_parser

    ns = build_parser().parse_args(["app", "port=7999", "host=127.0.0.1", "ckpt=x.pt"])
    assert ns.command == "app" and dict(ns.args) == {"port": 7999, "host": "127.0.0.1", "ckpt": "x.pt"}
    from mminvert.cli import main

    assert main(["app", "colour=red"]) == 2


def test_fp16_bundle_loads_back_close_with_class_names(tmp_path):
    model = _tiny_model(k=K)
    src = save_bundle(model, tmp_path / "fp32.pt")
    out = write_fp16_bundle(src, tmp_path / "fp16.pt", NAMES)
    inp16, names, _ = load_model(out, "cpu")
    inp32, names32, _ = load_model(src, "cpu")
    assert names == NAMES and names32 == [f"class {k}" for k in range(K)]
    assert all(p.dtype == torch.float32 for p in inp16.model.parameters())
    img = _rgb(32, 32)
    mask = np.full((32, 32), 255, np.uint8)
    mask[8:24, 8:24] = 0
    a, b = inp16.inspect(img, mask)["output"], inp32.inspect(img, mask)["output"]
    assert (a - b).abs().max() < 0.05


def test_page_builds_with_every_panel(app):
    gr = pytest.importorskip("gradio", reason="the app extra is not installed")
    from mminvert.app.ui import build_ui

    demo = build_ui(app)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"upload", "editor", "run", "result", "panels", "download", "status"} <= ids
    assert isinstance(demo, gr.Blocks)
