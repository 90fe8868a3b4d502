"""benchmarks/gpu.sh: named stages, one summary line each, a non-zero exit when a stage fails."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def gpu_sh(*args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(ROOT)}
    return subprocess.run(
        ["bash", str(ROOT / "benchmarks/gpu.sh"), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_without_arguments_it_lists_the_stages():
    run = gpu_sh()
    assert run.returncode == 2 and "bench-train" in run.stdout and "lesson-01" in run.stdout


def test_an_unknown_stage_fails_with_one_line_and_writes_only_under_out(tmp_path):
    run = gpu_sh(str(tmp_path / "out"), "no-such-stage")
    assert run.returncode != 0
    assert run.stdout.splitlines() == [run.stdout.strip()] and "stage no-such-stage: FAILED" in run.stdout
    assert "unknown stage" in (tmp_path / "out" / "logs" / "no-such-stage.err").read_text()
