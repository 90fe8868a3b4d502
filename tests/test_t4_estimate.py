"""benchmarks/t4_estimate.py: the README's estimated T4 lesson times come from the stored H200 runs."""

import importlib.util
from pathlib import Path

from resnet_edu import build_model, count_macs

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("t4_estimate", ROOT / "benchmarks" / "t4_estimate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rates_come_from_the_stored_h200_runs_and_land_in_a_t4s_range():
    est = _script()
    rates = est.measured_rates()
    assert rates["device"] == "NVIDIA H200"
    r18_t4 = rates["t4_macs_per_s"] / (3 * count_macs(build_model("resnet18", width=64)))
    assert 1_000 < r18_t4 < 10_000  # published T4 mixed-precision ResNet18 CIFAR training rates lie in here
    assert 0.001 < rates["step_s"] < 0.02


def test_every_lesson_is_estimated_and_a_slower_gpu_takes_longer():
    est = _script()
    rates = est.measured_rates()
    rows = est.estimate(rates)
    assert [r["lesson"] for r in rows] == ["01", "02", "03", "04", "05", "06"]
    assert all(r["seconds"] > 0 for r in rows)
    assert max(rows, key=lambda r: r["seconds"])["lesson"] == "06"  # ResNet18, width 64: 555 MMACs per image
    slower = est.estimate(dict(rates, t4_macs_per_s=rates["t4_macs_per_s"] / 2))
    assert all(s["seconds"] >= r["seconds"] for s, r in zip(slower, rows))
    assert sum(s["seconds"] for s in slower) > sum(r["seconds"] for r in rows)
