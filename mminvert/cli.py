"""The `mminvert` command. Sub-commands take `key=value` arguments like the Hydra entry points:

    mminvert export ckpt=RUN_OR_CKPT out=model.pt|model.onnx [format=auto|bundle|onnx] [overwrite=true]
    mminvert inpaint input=IMG_OR_DIR mask=MASK_OR_DIR output=DIR [ckpt=MODEL] [backend=auto] [...]
    mminvert app [ckpt=RUN_OR_CKPT_OR_BUNDLE] [port=7860] [host=127.0.0.1] [examples=DIR] [device=auto]
    mminvert table SWEEP_DIR [--out DIR] [--published FILE.yaml]
    mminvert data check data=NAME [HYDRA_OVERRIDES ...] [--limit N]

`export` writes an inference bundle that `mminvert.Inpainter.from_checkpoint` loads without Lightning or Hydra,
or (out=*.onnx / format=onnx) an ONNX graph that `mminvert.inference.OnnxInpainter` runs without torch (docs/deploy.md).
`inpaint` is inpaint.py for an installed package: the keys of conf/inpaint/config.yaml; without ckpt, the bundled
scenes model.
`app` serves the interactive inpainting page (docs/app.md); without ckpt it uses the bundled scenes model.
`table` turns a finished paper-table sweep (paper/train=table5 ...) into table.md + table.json; it exits
with 2, naming them, when rows are missing, failed or unknown (mminvert/evaluation/paper_table.py).
`data check` reads a data preset's splits before training (counts, sizes, label ids, classes) and exits with 1 on
problems (mminvert/data/check.py).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["main", "build_parser"]

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(value: str) -> bool:
    v = value.lower()
    if v not in _TRUE + _FALSE:
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return v in _TRUE


def _key_values(spec: dict[str, tuple[Callable[[str], object], object]]) -> Callable[[str], tuple[str, object]]:
    """An argparse type for `key=value` with the keys of `spec` ({key: (converter, default)})."""

    def parse(arg: str) -> tuple[str, object]:
        key, sep, value = arg.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"not a key=value argument: {arg!r}")
        if key not in spec:
            raise argparse.ArgumentTypeError(f"unknown key {key!r} (known: {', '.join(spec)})")
        return key, spec[key][0](value)

    return parse


_REQUIRED = object()
EXPORT = {"ckpt": (str, _REQUIRED), "out": (str, _REQUIRED), "format": (str, "auto"), "overwrite": (_flag, False)}


def _optional(convert: Callable[[str], object]) -> Callable[[str], object]:
    return lambda v: None if v.lower() in ("null", "none", "") else convert(v)


# the keys of conf/inpaint/config.yaml (tests/test_deploy_cli.py checks that the defaults agree)
INPAINT = {"input": (str, _REQUIRED), "mask": (str, _REQUIRED), "output": (str, _REQUIRED), "ckpt": (str, None),
           "mask_invert": (_flag, False), "overwrite": (_flag, False), "on_error": (str, "fail"),
           "backend": (str, "auto"), "device": (str, "auto"), "threads": (_optional(int), None),
           "context": (float, 2.0), "num_samples": (int, 1), "seed": (_optional(int), None)}
APP = {"ckpt": (str, None), "port": (int, 7860), "host": (str, "127.0.0.1"), "examples": (str, None),
       "device": (str, "auto")}


def _add(sub: argparse._SubParsersAction, name: str, spec: dict, help: str) -> None:
    usage = " ".join(f"{k}=..." if d is _REQUIRED else f"[{k}={d}]" for k, (_, d) in spec.items())
    p = sub.add_parser(name, help=help, usage=f"mminvert {name} {usage}")
    p.add_argument("args", nargs="*", type=_key_values(spec), metavar="key=value")
    p.set_defaults(spec=spec)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mminvert", description="mminvert command-line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    _add(sub, "export", EXPORT, "write an inference bundle or ONNX graph from a run folder or checkpoint")
    _add(sub, "inpaint", INPAINT, "inpaint image files (inpaint.py for an installed package)")
    _add(sub, "app", APP, "serve the interactive inpainting page (needs the `app` extra)")
    table = sub.add_parser("table", help="make a paper table (table.md, table.json) from a finished sweep folder")
    table.add_argument("sweep_dir", help="the multirun folder of e.g. `python train.py -m paper/train=table5`")
    table.add_argument("--out", default=None, help="folder for table.md / table.json (default: the sweep folder)")
    table.add_argument("--published", default=None, metavar="FILE.yaml",
                       help="the paper's values to print beside ours (format: mminvert/evaluation/paper_table.py)")
    table.add_argument("--figure", default=None, metavar="FILE.png",
                       help="also render the same test inputs through every row (first seed) into this PNG")
    table.add_argument("--figure-bucket", default="0.4-0.6", help="hole-ratio bucket of the figure's masks")
    table.set_defaults(spec=None)
    data = sub.add_parser("data", help="check a data preset before training: counts, sizes, label ids, classes",
                          usage="mminvert data check data=NAME [HYDRA_OVERRIDES ...] [--limit N]")
    data.add_argument("action", choices=["check"])
    data.add_argument("overrides", nargs="*", metavar="override", help="Hydra overrides of conf/config.yaml: data=NAME, "
                      "hydra.searchpath=[file:///my/presets], data.source.root=...")
    data.add_argument("--limit", type=int, default=None, help="check at most N images per split (default: all)")
    data.set_defaults(spec=None)
    return parser


def _options(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> dict[str, object]:
    if ns.spec is None:  # a sub-command with ordinary argparse arguments
        return {k: v for k, v in vars(ns).items() if k not in ("command", "spec")}
    opts = {k: d for k, (_, d) in ns.spec.items()}
    opts.update(dict(ns.args))
    missing = [k for k, v in opts.items() if v is _REQUIRED]
    if missing:
        parser.error(f"{ns.command}: missing {', '.join(f'{k}=...' for k in missing)}")
    return opts


def _export(opts: dict[str, object]) -> int:
    from .inference import Inpainter
    from .inference.bundle import check_export_target
    from .io import resolve_checkpoint

    try:
        source = resolve_checkpoint(str(opts["ckpt"]))
        check_export_target(source, str(opts["out"]))
        inp = Inpainter.from_checkpoint(source)
        path = inp.export(str(opts["out"]), overwrite=bool(opts["overwrite"]), format=str(opts["format"]),
                          training_run=str(opts["ckpt"]))
    except (OSError, ValueError) as e:  # missing/wrong files, existing output, CheckpointError
        print(f"mminvert export: {e}", file=sys.stderr)
        return 1
    except ImportError as e:  # format=onnx without the onnx package
        print(f"mminvert export: {e}; install the onnx extra: pip install 'mminvert[onnx]'", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _inpaint(opts: dict[str, object]) -> int:
    import logging

    from .inference.backends import BUNDLED_INPAINTER, open_inpainter
    from .inference.cli import inpaint_paths

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        inpainter = open_inpainter(opts["ckpt"] or BUNDLED_INPAINTER, str(opts["backend"]), str(opts["device"]),
                                   threads=opts["threads"], context=float(opts["context"]),
                                   num_samples=int(opts["num_samples"]), seed=opts["seed"])
        paths = inpaint_paths(inpainter, str(opts["input"]), str(opts["mask"]), str(opts["output"]),
                              bool(opts["mask_invert"]), bool(opts["overwrite"]), str(opts["on_error"]))
    except (OSError, ValueError, ImportError) as e:  # missing/unreadable files, refused overwrites, wrong backend
        print(f"mminvert inpaint: {e}", file=sys.stderr)      # or model, onnxruntime not installed
        return 1
    print(f"wrote {len(paths)} file(s) to {opts['output']}")
    return 0


def _app(opts: dict[str, object]) -> int:
    try:
        from .app import launch
        from .app.ui import gr  # noqa: F401 — the optional dependency, checked before loading the model
    except ImportError as e:
        print(f"mminvert app: {e}; install the app extra: pip install -e '.[app]'", file=sys.stderr)
        return 1
    try:
        launch(opts["ckpt"], host=str(opts["host"]), port=int(opts["port"]), examples=opts["examples"],
               device=str(opts["device"]))
    except (OSError, ValueError) as e:  # missing/wrong checkpoint or examples folder, port in use
        print(f"mminvert app: {e}", file=sys.stderr)
        return 1
    return 0


def _table(opts: dict[str, object]) -> int:
    from .evaluation.paper_table import SweepError, make_table

    try:
        paths = make_table(str(opts["sweep_dir"]), opts.get("out"), opts.get("published"))  # type: ignore[arg-type]
    except SweepError as e:  # missing / failed / unknown rows, an invalid --published file
        print(f"mminvert table: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a table this command did not write, an unwritable folder
        print(f"mminvert table: {e}", file=sys.stderr)
        return 1
    if opts.get("figure"):
        from .evaluation.paper_figure import rows_figure

        paths = list(paths) + [rows_figure(str(opts["sweep_dir"]), str(opts["figure"]), str(opts["figure_bucket"]))]
    for path in paths:
        print(f"wrote {path}")
    return 0


def _data(opts: dict[str, object]) -> int:
    from .data.check import main as check_main

    return check_main(list(opts["overrides"]), opts.get("limit"))  # type: ignore[arg-type]


COMMANDS: dict[str, Callable[[dict[str, object]], int]] = {"export": _export, "inpaint": _inpaint, "app": _app,
                                                          "table": _table, "data": _data}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        opts = _options(parser, ns)
    except SystemExit as e:  # argparse exits 2 on bad usage, 0 on --help
        return int(e.code or 0)
    return COMMANDS[ns.command](opts)


if __name__ == "__main__":
    raise SystemExit(main())
