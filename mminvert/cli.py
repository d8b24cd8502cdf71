"""`mminvert` command: `mminvert export ckpt=RUN_OR_CKPT out=model.pt [overwrite=true]` writes an inference
bundle that `mminvert.Inpainter.from_checkpoint` loads without Lightning or Hydra."""
from __future__ import annotations

import sys

__all__ = ["main"]

USAGE = "usage: mminvert export ckpt=<run folder | .ckpt | bundle> out=<file.pt> [overwrite=true]"


def _kv(args: list[str]) -> dict[str, str]:
    out = {}
    for a in args:
        if "=" not in a:
            raise SystemExit(f"{USAGE}\nnot a key=value argument: {a!r}")
        k, v = a.split("=", 1)
        out[k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "export":
        print(USAGE, file=sys.stderr)
        return 2
    kv = _kv(args[1:])
    unknown = set(kv) - {"ckpt", "out", "overwrite"}
    if unknown or not {"ckpt", "out"} <= set(kv):
        print(f"{USAGE}\nunknown or missing keys: {sorted(unknown) or sorted({'ckpt', 'out'} - set(kv))}", file=sys.stderr)
        return 2
    from .evaluation import resolve_checkpoint
    from .inference import Inpainter

    try:
        inp = Inpainter.from_checkpoint(resolve_checkpoint(kv["ckpt"]))
        path = inp.export(kv["out"], overwrite=kv.get("overwrite", "false").lower() in ("1", "true", "yes"))
    except (OSError, ValueError) as e:  # missing/wrong files, existing output, CheckpointError
        print(f"mminvert export: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
