"""ONNX export and the onnxruntime backend: parity with PyTorch (max |Δ| <= 1e-3 in [-1, 1], known pixels
identical), dynamic batch, metadata, the diverse model's z input, the bundled scenes model, and OnnxInpainter
working with torch unimportable. Tiny random models (pretrained: false)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from mminvert import __version__
from mminvert.inference import Inpainter, OnnxInpainter, load_bundle
from mminvert.inference.backends import BUNDLED_INPAINTER
from mminvert.inference.onnx_export import MASK_CONVENTION, export_onnx, graph_input_names
from tests.test_inversion import _tiny_model

REPO = Path(__file__).resolve().parents[1]
TOL = 1e-3


def _inputs(model, names, batch=3, seed=0):
    """Graph inputs with a batch size other than the one the graph was traced with (2)."""
    g = torch.Generator().manual_seed(seed)
    R = model.generator.resolution
    made = {"image": torch.rand(batch, 3, R, R, generator=g) * 2 - 1,
            "mask": (torch.rand(batch, 1, R, R, generator=g) > 0.4).float(),
            "seg": torch.randint(0, 5, (batch, R, R), generator=g),
            "edge": (torch.rand(batch, 1, R, R, generator=g) > 0.9).float(),
            "mask_seg": torch.ones(batch, 1, R, R), "mask_edge": torch.ones(batch, 1, R, R),
            "z": torch.randn(batch, getattr(model.generator, "z_dim", 1), generator=g)}
    made["seg"][0, :4] = 255  # ignored labels
    made["mask_edge"][1] = 0  # one item without an edge map
    return {n: made[n] for n in names}


def _session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _check_parity(model, path, z=False):
    names = graph_input_names(model)
    feed = _inputs(model, names)
    composite, generated = _session(path).run(["composite", "generated"], {k: v.numpy() for k, v in feed.items()})
    with torch.no_grad():
        batch = {k: v for k, v in feed.items() if k != "z"}
        ref = model(batch, z=feed["z"]) if z else model(batch)
    assert composite.shape == tuple(ref["composite"].shape) and composite.shape[0] == 3  # dynamic batch
    assert np.abs(generated - ref["image"].numpy()).max() <= TOL
    assert np.abs(composite - ref["composite"].numpy()).max() <= TOL
    known = np.broadcast_to(feed["mask"].numpy() > 0.5, composite.shape)
    assert np.array_equal(composite[known], feed["image"].numpy()[known])  # exact by construction
    assert np.abs(composite[~known] - feed["image"].numpy()[~known]).mean() > 0.05  # the hole was filled


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny MMInvertFill with both guidance modalities and non-zero noise strengths, exported."""
    model = _tiny_model(k=5).eval()
    with torch.no_grad():
        for name, p in model.generator.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.3)  # so that the parity tests see the stored noise
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx", training_run="runs/tiny")


def test_tiny_mminvertfill_graph_matches_pytorch(tiny):
    model, path = tiny
    assert graph_input_names(model) == ["image", "mask", "seg", "mask_seg", "edge", "mask_edge"]
    _check_parity(model, path)


def test_graph_metadata_and_constant_noise(tiny):
    model, path = tiny
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["mminvert.model_class"] == "MMInvertFill" and meta["mminvert.resolution"] == "32"
    assert meta["mminvert.mask_convention"] == MASK_CONVENTION and meta["mminvert.version"] == __version__
    assert meta["mminvert.training_run"] == "runs/tiny" and meta["mminvert.noise"] == "const"
    assert [o.name for o in proto.graph.output] == ["composite", "generated"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    ops = {n.op_type for n in proto.graph.node}
    assert not {o for o in ops if o.startswith("Random")} and "Multinomial" not in ops  # noise: stored constants
    feed = {k: v.numpy() for k, v in _inputs(model, graph_input_names(model)).items()}
    first, second = (_session(path).run(["generated"], feed)[0] for _ in range(2))
    assert np.array_equal(first, second)


def test_random_noise_model_exports_its_constant_noise(tmp_path):
    model = _tiny_model(use_aux=False).eval()
    model.noise_mode = "random"
    path = export_onnx(model, tmp_path / "random.onnx")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["mminvert.noise"].startswith("const (the model's random noise")
    assert model.noise_mode == "random"  # restored
    model.noise_mode = "const"
    _check_parity(model, path)


@pytest.mark.parametrize("variant", ["psp", "invertfill"])
def test_psp_and_invertfill_export(variant, tmp_path):
    model = (_tiny_model(use_aux=False, premod=False, skip=False, tau=0.0) if variant == "psp"
             else _tiny_model(use_aux=False)).eval()
    path = export_onnx(model, tmp_path / f"{variant}.onnx")
    assert [i.name for i in onnx.load(str(path)).graph.input] == ["image", "mask"]
    _check_parity(model, path)


def _tiny_diverse():
    """Stage 2 (the skip encoder in use) of the narrow test configuration of tests/test_diverse_model.py."""
    from tests.test_diverse_model import _model

    return _model(stage=2)


def test_diverse_model_exports_with_its_random_code_as_an_input(tmp_path):
    model = _tiny_diverse()
    path = export_onnx(model, tmp_path / "diverse.onnx")
    assert graph_input_names(model) == ["image", "mask", "z"]
    _check_parity(model, path, z=True)
    inp = OnnxInpainter(path, threads=1)
    img = np.random.default_rng(0).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    mask = np.full((40, 52), 255, np.uint8)
    mask[10:25, 12:40] = 0
    a, b = inp(img, mask, num_samples=2, seed=3)
    again = inp(img, mask, num_samples=2, seed=3)
    known = mask > 127
    assert np.array_equal(a, again[0]) and np.array_equal(b, again[1])  # the same seed, the same fills
    assert np.array_equal(a[known], img[known]) and np.array_equal(b[known], img[known])
    assert not np.array_equal(a, b)  # two codes, two fills


def _odd_inputs():
    """Images of odd sizes and modes with their masks (255 = known)."""
    rng = np.random.default_rng(4)
    out = []
    for (h, w), mode in (((37, 53), "RGB"), ((90, 41), "L"), ((33, 33), "RGBA"), ((120, 200), "P")):
        arr = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        img = Image.fromarray(arr, "RGBA").convert(mode) if mode != "P" else \
            Image.fromarray(arr[..., :3], "RGB").quantize(64)
        m = np.full((h, w), 255, np.uint8)
        m[h // 4 : h // 2 + 3, w // 3 : w // 3 + max(w // 4, 3)] = 0
        out.append((img, Image.fromarray(m)))
    return out


def test_onnx_inpainter_matches_inpainter_on_odd_sizes_and_modes(tiny):
    model, path = tiny
    torch_inp, onnx_inp = Inpainter(model), OnnxInpainter(path, threads=1)
    assert onnx_inp.R == torch_inp.R and onnx_inp.use_aux and onnx_inp.num_classes == 5
    for img, mask in _odd_inputs():
        a, b = torch_inp(img, mask), onnx_inp(img, mask)
        assert (b.mode, b.size) == (a.mode, a.size) == (img.mode, img.size)
        x, y, src = np.asarray(a).astype(int), np.asarray(b).astype(int), np.asarray(img).astype(int)
        known = np.asarray(mask) > 127
        assert np.array_equal(y[known], src[known])
        if img.mode == "P":  # palette indices: nearly every hole pixel takes the same colour
            assert (x[~known] == y[~known]).mean() > 0.95
        else:  # 1e-3 in [-1, 1] is 0.13 of a level: at most one level after rounding
            assert np.abs(x - y).max() <= 1
    seg = np.random.default_rng(0).integers(0, 5, (37, 53))
    img, mask = _odd_inputs()[0]
    a, b = torch_inp(img, mask, seg=seg), onnx_inp(img, mask, seg=seg)  # guidance goes through the graph too
    assert np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int)).max() <= 1
    assert not np.array_equal(np.asarray(b), np.asarray(onnx_inp(img, mask)))


def test_bundled_scenes_model_export_matches_pytorch(tmp_path):
    model = load_bundle(BUNDLED_INPAINTER)
    path = export_onnx(model, tmp_path / "scenes64.onnx")
    _check_parity(model, path)
    img = np.random.default_rng(2).integers(0, 256, (70, 95, 3), dtype=np.uint8)
    mask = np.full((70, 95), 255, np.uint8)
    mask[20:50, 30:70] = 0
    a, b = Inpainter(model)(img, mask), OnnxInpainter(path, threads=1)(img, mask)
    assert np.array_equal(b[mask > 127], img[mask > 127]) and np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_onnx_inpainter_runs_with_torch_and_lightning_unimportable(tiny, tmp_path):
    """A service with onnxruntime, numpy and Pillow only: torch, Lightning and Hydra are made unimportable."""
    _, path = tiny
    script = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "pytorch_lightning", "lightning", "hydra", "torchvision"):
                    raise ImportError(f"blocked: {{name}}")
        sys.meta_path.insert(0, Block())
        import numpy as np
        from mminvert.inference import OnnxInpainter
        inp = OnnxInpainter({str(path)!r}, threads=1)
        img = np.random.default_rng(0).integers(0, 256, (45, 61, 3), dtype=np.uint8)
        mask = np.full((45, 61), 255, np.uint8)
        mask[5:20, 30:50] = 0
        out = inp(img, mask)
        assert out.shape == img.shape and np.array_equal(out[mask > 127], img[mask > 127])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "pytorch_lightning", "hydra"))
        print("loaded:", heavy)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "loaded: []" in r.stdout


def test_onnx_inpainter_names_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        OnnxInpainter(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="junk.onnx: not a readable ONNX model"):
        OnnxInpainter(tmp_path / "junk.onnx")
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    other = onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                                   opset_imports=[onnx.helper.make_opsetid("", 17)])
    onnx.save(other, str(tmp_path / "relu.onnx"))
    with pytest.raises(ValueError, match="relu.onnx: not an mminvert inpainting graph"):
        OnnxInpainter(tmp_path / "relu.onnx")
