"""Packaging hook (the metadata is in pyproject.toml): ship the Hydra configs of conf/ inside the package as
mminvert/conf, so that an installed wheel finds them (mminvert/utils/config_dir.py). In a checkout the code
reads conf/ itself; nothing is copied into the source tree."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONF = Path(__file__).resolve().parent / "conf"


class BuildPyWithConfigs(build_py):
    """build_py, plus conf/**/*.yaml copied to <build>/mminvert/conf/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's conf/
            return
        for src in sorted(CONF.rglob("*.yaml")):
            dst = Path(self.build_lib) / "mminvert" / "conf" / src.relative_to(CONF)
            self.mkpath(str(dst.parent))
            self.copy_file(str(src), str(dst))


setup(cmdclass={"build_py": BuildPyWithConfigs})
