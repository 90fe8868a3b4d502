"""Build hook: ship the stored paper-setting results (`results/`) inside the package.

A lesson run outside a clone (Colab, an installed wheel) then plots the stored GPU runs exactly as it
does inside one: `course.settings.stored_dir()` reads `resnet_edu/course/stored/` there and
`results/` in a clone. Everything else about the build is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESULTS = Path(__file__).parent / "results"
SHIPPED = {".json", ".npz"}  # stored runs: histories, rows, surfaces (no checkpoints)


class BuildWithResults(build_py):
    """The usual build, plus a copy of every stored result file."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "resnet_edu" / "course" / "stored"
        for source in sorted(RESULTS.rglob("*")):
            if source.is_file() and source.suffix in SHIPPED:
                copy = target / source.relative_to(RESULTS)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, copy)


setup(cmdclass={"build_py": BuildWithResults})
