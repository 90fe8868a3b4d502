"""The library and tests pass ruff's lint and format checks, as configured in pyproject.toml."""

import subprocess
import sys

from resnet_edu.course import ROOT


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint():
    result = ruff("check", "resnet_edu", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = ruff("format", "--check", "resnet_edu", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
