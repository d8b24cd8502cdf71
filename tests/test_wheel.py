"""The package outside the repository: build the wheel, install it (--no-deps) into a fresh venv that sees this
environment's site-packages, and run `mminvert.Inpainter`, the packaged configs, `mminvert export`,
`mminvert inpaint` (both backends) and the app from another folder, with the checkout nowhere on the path."""
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mminvert.inference import save_bundle
from tests.test_inversion import _tiny_model

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "mminvert", "conf")


def _run(args, cwd, timeout=600):
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(cwd)}  # no PYTHONPATH: the wheel only
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{args}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv python, venv bin folder, a working folder outside the repository)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"  # a copy, so that building leaves the checkout clean
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(root / "dist"), str(src)], check=True, capture_output=True, timeout=600)
    wheel = next((root / "dist").glob("mminvert-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"mminvert/conf/config.yaml", "mminvert/conf/evaluate.yaml", "mminvert/conf/inpaint/config.yaml",
            "mminvert/assets/scenes64_inpainter.pt"} <= names
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root).strip())
    # this environment's packages (torch, Lightning, ...) after the venv's own; its .pth files (an editable
    # mminvert) are not read from a path added this way
    (site / "project_packages.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, timeout=600)
    work = root / "elsewhere"
    work.mkdir()
    return py, venv / "bin", work


@pytest.mark.slow
def test_installed_package_and_its_configs(installed):
    py, _, work = installed
    script = textwrap.dedent("""
        import numpy as np, mminvert
        from pathlib import Path
        from hydra import compose, initialize_config_dir
        from mminvert.utils.config_dir import PACKAGED_CONF, config_dir
        from mminvert.runner.callbacks.evaluate_after_fit import EVALUATE_CONFIG, evaluation_defaults
        from mminvert.data.preview import CONF
        from mminvert.tasks.stylegan2_discriminator import discriminator_from_preset
        assert Path(mminvert.__file__).is_relative_to(Path(__import__("sys").prefix)), mminvert.__file__
        assert config_dir() == PACKAGED_CONF == CONF and EVALUATE_CONFIG.is_file()
        assert evaluation_defaults().optim_inversion.steps > 0  # the baseline settings group ships too
        with initialize_config_dir(str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=["data=scenes_tiny"])
        assert cfg.model and cfg.data
        discriminator_from_preset("tiny")
        inp = mminvert.Inpainter.from_checkpoint(Path(mminvert.__file__).parent / "assets" / "scenes64_inpainter.pt")
        img = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)
        mask = np.full((45, 70), 255, np.uint8)
        mask[10:30, 20:50] = 0
        out = inp(img, mask)
        assert out.shape == img.shape and np.array_equal(out[mask > 127], img[mask > 127])
        print("ok", mminvert.__file__)
    """)
    assert "ok" in _run([py, "-c", script], work)


@pytest.mark.slow
def test_installed_commands_export_inpaint_and_app(installed):
    py, bin_dir, work = installed
    bundle = save_bundle(_tiny_model(use_aux=False), work / "tiny.pt")
    _run([bin_dir / "mminvert", "export", f"ckpt={bundle}", f"out={work / 'tiny.onnx'}"], work)
    assert (work / "tiny.onnx").is_file()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (50, 77, 3), dtype=np.uint8)).save(work / "img.png")
    mask = np.full((50, 77), 255, np.uint8)
    mask[12:30, 20:60] = 0
    Image.fromarray(mask).save(work / "mask.png")
    for name, extra in (("bundled", []), ("onnx", [f"ckpt={work / 'tiny.onnx'}", "threads=1"])):
        _run([bin_dir / "mminvert", "inpaint", "input=img.png", "mask=mask.png", f"output=out_{name}", *extra], work)
        out = np.asarray(Image.open(work / f"out_{name}" / "img.png"))
        assert out.shape == (50, 77, 3)
        assert np.array_equal(out[mask > 127], np.asarray(Image.open(work / "img.png"))[mask > 127])
    assert "mminvert app" in _run([bin_dir / "mminvert", "app", "--help"], work)
    app = textwrap.dedent("""
        from mminvert.app import create_app
        from mminvert.app.ui import build_ui
        demo = build_ui(create_app())
        print("app ok", type(demo).__name__)
    """)
    assert "app ok Blocks" in _run([py, "-c", app], work)
