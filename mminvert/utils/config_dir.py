"""Where the Hydra configs (conf/) are: the checkout's, next to the package, or the copy an installed wheel ships
inside it (mminvert/conf, put there by setup.py's build step), so that code reading conf/ works from both."""
from __future__ import annotations

from pathlib import Path

__all__ = ["config_dir", "CHECKOUT_CONF", "PACKAGED_CONF"]

_PACKAGE = Path(__file__).resolve().parents[1]
CHECKOUT_CONF = _PACKAGE.parent / "conf"   # a clone of the repository (or an editable install)
PACKAGED_CONF = _PACKAGE / "conf"          # a wheel


def config_dir() -> Path:
    """The conf/ folder: the checkout's when there is one, else the packaged copy. When neither holds
    config.yaml (a broken install), the checkout path, so that the caller's error names where it looked."""
    for candidate in (CHECKOUT_CONF, PACKAGED_CONF):
        if (candidate / "config.yaml").is_file():
            return candidate
    return CHECKOUT_CONF
