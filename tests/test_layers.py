"""The package layers of docs/design.md hold: no package imports one of its own layer or above, and only the
packages that run training import Lightning. Every import counts, also those inside functions (lazy imports
load the module all the same); imports under `if TYPE_CHECKING:` are for annotations only and do not count."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "mminvert"


def layer_table() -> dict[str, int]:
    """{package: layer} read from the table of docs/design.md (`| 3 | data, losses |` rows)."""
    text = (REPO / "docs" / "design.md").read_text()
    section = text.split("<!-- layers -->")[1]
    layers: dict[str, int] = {}
    for number, names in re.findall(r"^\|\s*(\d+)\s*\|([^|]+)\|", section, flags=re.M):
        for name in re.findall(r"`([a-z_0-9.]+)`", names):
            layers[name] = int(number)
    return layers


LIGHTNING_ALLOWED = {"data", "runner", "tasks"}  # DataModules; the runner and its callbacks; the task modules


def _module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in `path` (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    module = _module_name(path, root)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module or ""))
                continue
            base = package[:len(package) - (node.level - 1)]
            if node.module:
                found.append((node.lineno, ".".join(base + [node.module])))
            else:  # `from .. import name`: each name is a submodule or an attribute of the package
                found += [(node.lineno, ".".join(base + [a.name])) for a in node.names]
    return found


def _top(module: str) -> str | None:
    """The mminvert package (first level below mminvert) a module belongs to; None outside mminvert."""
    parts = module.split(".")
    if parts[0] != "mminvert":
        return None
    return parts[1] if len(parts) > 1 else ""


def violations(root: Path = REPO) -> list[str]:
    """Every import in `root`/mminvert that breaks the layer table (or the Lightning rule), as 'file:line: why'."""
    layers = layer_table()
    found = []
    package = root / "mminvert"
    for path in sorted(package.rglob("*.py")):
        if path == package / "__init__.py":  # the lazy public façade: it names what the layers export
            continue
        own = _top(_module_name(path, root))
        if own not in layers:
            found.append(f"{path.relative_to(root)}: package `{own}` is missing from the layer table of docs/design.md")
            continue
        for line, target in imports_of(path, root):
            where = f"{path.relative_to(root)}:{line}"
            if target.split(".")[0] in ("pytorch_lightning", "lightning") and own not in LIGHTNING_ALLOWED:
                found.append(f"{where}: `{own}` imports Lightning (only {sorted(LIGHTNING_ALLOWED)} may)")
            other = _top(target)
            if other is None or other == own or target == "mminvert.__version__":
                continue
            if other == "":
                found.append(f"{where}: imports the top-level package `mminvert` (import the subpackage instead)")
            elif other not in layers:
                found.append(f"{where}: imports `{other}`, which is missing from the layer table")
            elif layers[other] >= layers[own]:
                found.append(f"{where}: `{own}` (layer {layers[own]}) imports `{other}` (layer {layers[other]})")
    return found


def test_every_package_is_in_the_layer_table():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    packages |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert packages - set(layer_table()) == set()
    assert set(layer_table()) - packages == set(), "the layer table names packages that do not exist"


def test_no_package_imports_its_own_layer_or_above():
    assert violations() == []


def test_the_check_catches_an_upward_import(tmp_path):
    """The walker sees a lazy import from a network package into the runner, and a Lightning import (in a copy of
    a package tree, so that the real package is never touched)."""
    probe = tmp_path / "mminvert" / "stylegan2" / "_layer_probe.py"
    probe.parent.mkdir(parents=True)
    (tmp_path / "mminvert" / "__init__.py").write_text("")
    (probe.parent / "__init__.py").write_text("from . import _layer_probe\n")
    probe.write_text("def f():\n    from ..runner import train\n    import pytorch_lightning\n    return train\n")
    found = violations(tmp_path)
    assert any("_layer_probe.py:2" in v and "`runner`" in v for v in found)
    assert any("_layer_probe.py:3" in v and "Lightning" in v for v in found)


def test_networks_inference_and_evaluation_load_without_lightning():
    """At run time too: importing the networks, inference, evaluation and the app, and loading the bundled model
    with `Inpainter`, leaves Lightning unloaded; the DataModules load it on first use."""
    modules = ["mminvert.stylegan2", "mminvert.encoder", "mminvert.inversion", "mminvert.diverse", "mminvert.io",
               "mminvert.data", "mminvert.baselines", "mminvert.editing", "mminvert.inference", "mminvert.evaluation",
               "mminvert.app"]
    lightning = "sorted(m for m in sys.modules if m.split('.')[0] in ('pytorch_lightning', 'lightning'))"
    code = (f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
            "from mminvert.inference import Inpainter; "
            "Inpainter.from_checkpoint('mminvert/assets/scenes64_inpainter.pt'); "
            f"print({lightning}); from mminvert.data import InpaintingDataModule; print(bool({lightning}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"]
