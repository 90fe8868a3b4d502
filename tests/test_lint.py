"""The library, the tests, the benchmarks and the lessons pass ruff's lint and format checks, as
configured in pyproject.toml."""

import subprocess
import sys

from resnet_edu.course.settings import ROOT

PATHS = ("resnet_edu", "tests", "benchmarks", "notebooks")


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint():
    result = ruff("check", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = ruff("format", "--check", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr
