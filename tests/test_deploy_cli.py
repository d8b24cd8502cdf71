"""`mminvert export` to ONNX, `inpaint.py backend=onnxruntime` and `mminvert inpaint` on real photos (scikit-image's
sample images) of odd sizes and modes: the same files, sizes and modes as the PyTorch path, known pixels identical."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from omegaconf import OmegaConf
from PIL import Image

from mminvert import cli
from mminvert.inference import save_bundle
from mminvert.inference.backends import BUNDLED_INPAINTER, backend_for
from tests.test_inversion import _tiny_model

REPO = Path(__file__).resolve().parents[1]


def test_inpaint_command_has_the_keys_and_defaults_of_inpaint_py():
    yaml = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "inpaint" / "config.yaml"))
    yaml.pop("hydra")
    spec = {k: (None if d is cli._REQUIRED else d) for k, (_, d) in cli.INPAINT.items()}
    assert spec == {k: (None if v == "???" else v) for k, v in yaml.items()}


def test_backend_follows_the_file_and_refuses_a_mismatch():
    assert backend_for("m.onnx") == "onnxruntime" and backend_for("run/last.ckpt") == "torch"
    with pytest.raises(ValueError, match="not a .onnx file"):
        backend_for("m.pt", "onnxruntime")
    with pytest.raises(ValueError, match="not the ONNX graph"):
        backend_for("m.onnx", "torch")


def test_export_infers_onnx_from_the_suffix_and_keeps_existing_files(tmp_path, capsys):
    bundle = save_bundle(_tiny_model(use_aux=False), tmp_path / "tiny.pt")
    out = tmp_path / "tiny.onnx"
    assert cli.main(["export", f"ckpt={bundle}", f"out={out}"]) == 0
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["mminvert.training_run"] == str(bundle) and meta["mminvert.model_class"] == "MMInvertFill"
    before = out.read_bytes()
    assert cli.main(["export", f"ckpt={bundle}", f"out={out}"]) == 1  # exists: refused
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert cli.main(["export", f"ckpt={bundle}", f"out={tmp_path / 'b.onnx'}", "format=bundle"]) == 1
    assert "ends in .onnx" in capsys.readouterr().err and not (tmp_path / "b.onnx").exists()
    assert cli.main(["export", f"ckpt={bundle}", f"out={tmp_path / 'graph.bin'}", "format=onnx"]) == 0
    assert onnx.load(str(tmp_path / "graph.bin")).graph.output[0].name == "composite"


def _photos(folder: Path) -> Path:
    """Real photos cropped to odd sizes in several modes and formats, with masks of the same stems in masks/."""
    from skimage import data

    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    photos = {"astronaut.png": Image.fromarray(data.astronaut()[13:250, 40:333]),                 # RGB 237x293
              "camera.png": Image.fromarray(data.camera()[100:351, 77:300]),                      # L 251x223
              "coffee.png": Image.fromarray(data.coffee()[:181, :247]).convert("RGBA"),          # RGBA
              "chelsea.png": Image.fromarray(data.chelsea()[5:200, :301]).quantize(128),         # P
              "rocket.jpg": Image.fromarray(data.rocket()[:203, 100:389]),                       # JPEG RGB
              "camera16.png": Image.fromarray(data.camera()[:97, :131].astype(np.uint16) * 257)}  # I;16
    for name, img in photos.items():
        img.save(folder / "images" / name)
        w, h = img.size
        m = np.full((h, w), 255, np.uint8)
        m[h // 3 : h // 3 + h // 4, w // 5 : w // 5 + w // 3] = 0
        Image.fromarray(m).save(folder / "masks" / f"{Path(name).stem}.png")
    return folder


def test_onnxruntime_backend_gives_the_same_files_as_pytorch_on_real_photos(tmp_path):
    photos = _photos(tmp_path / "photos")
    graph = tmp_path / "scenes64.onnx"
    assert cli.main(["export", f"ckpt={BUNDLED_INPAINTER}", f"out={graph}"]) == 0
    r = subprocess.run([sys.executable, str(REPO / "inpaint.py"), f"ckpt={graph}", "backend=onnxruntime", "threads=1",
                        f"input={photos / 'images'}", f"mask={photos / 'masks'}", f"output={tmp_path / 'onnx'}",
                        f"hydra.run.dir={tmp_path / 'hydra'}"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    assert cli.main(["inpaint", f"input={photos / 'images'}", f"mask={photos / 'masks'}",
                     f"output={tmp_path / 'torch'}", "device=cpu"]) == 0  # default ckpt: the bundled model
    names = sorted(p.name for p in (tmp_path / "torch").glob("*.png"))
    assert names == sorted(p.name for p in (tmp_path / "onnx").glob("*.png")) and len(names) == 6
    for name in names:
        src = Image.open(next((photos / "images").glob(f"{Path(name).stem}.*")))
        a, b = Image.open(tmp_path / "torch" / name), Image.open(tmp_path / "onnx" / name)
        assert (b.mode, b.size) == (a.mode, a.size) == (src.mode, src.size), name
        known = np.asarray(Image.open(photos / "masks" / name)) > 127
        x, y = np.asarray(a).astype(np.int64), np.asarray(b).astype(np.int64)
        assert np.array_equal(y[known], np.asarray(src).astype(np.int64)[known]), name
        if src.mode == "P":  # palette indices: nearly all hole pixels pick the same colour
            assert (x[~known] == y[~known]).mean() > 0.95, name
        else:  # <= 1e-3 in [-1, 1]: at most one level of 8 bits (16-bit images: 1e-3 * 65535 / 2 levels)
            assert np.abs(x - y).max() <= (34 if src.mode.startswith("I") else 1), name
        assert (y[~known] != np.asarray(src).astype(np.int64)[~known]).mean() > 0.3, name  # filled


def test_inpaint_command_refuses_a_bundle_for_onnxruntime(tmp_path, capsys):
    photos = _photos(tmp_path / "photos")
    code = cli.main(["inpaint", f"input={photos / 'images'}", f"mask={photos / 'masks'}",
                     f"output={tmp_path / 'out'}", f"ckpt={BUNDLED_INPAINTER}", "backend=onnxruntime"])
    assert code == 1 and "not a .onnx file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
