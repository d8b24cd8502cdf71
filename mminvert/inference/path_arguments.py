"""Plain paths on the `inpaint.py` command line: `input=my photos/a.png`, `input=фото/a.png`.

Hydra's override grammar reads `key=value` values as its own little language: a space or a non-ASCII letter
stops its lexer (`LexerNoViableAltException`), a comma makes a sweep, `[` a list. For the path keys of
`inpaint.py` a value the grammar would not read back as the same string is quoted before Hydra sees it, so any
path works as typed (inside shell quotes where the shell needs them). Values already quoted are left as they are.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PATH_KEYS", "quote_path_arguments"]

PATH_KEYS = ("ckpt", "input", "mask", "output")


def _reads_back(arg: str, value: str) -> bool:
    """True if Hydra parses `arg` into the plain string `value`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides([arg])[0].value()
    except (HydraException, ValueError):  # OverrideParseException is a HydraException
        return False
    return isinstance(parsed, str) and parsed == value


def quote_path_arguments(argv: Sequence[str], keys: Sequence[str] = PATH_KEYS) -> list[str]:
    """`argv` with each `key=value` of `keys` quoted for Hydra where the value would not parse as itself."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+") in keys and value[:1] not in ("'", '"') and not _reads_back(arg, value):
            quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
            if _reads_back(f"{key}={quoted}", value):
                arg = f"{key}={quoted}"
        out.append(arg)
    return out
