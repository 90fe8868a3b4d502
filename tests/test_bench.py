"""Command line: clean one-line errors with exit code 2, train/compare/bench end to end on tiny inputs."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import run
from resnet_edu import bench


def test_bench_landscape_is_wired_to_bench_landscape(capsys, monkeypatch):
    seen = {}

    def fake(**kw):
        seen.update(kw)
        return {"ours_s_per_point": 0.5, "ratio": 12.0}

    monkeypatch.setattr(bench, "bench_landscape", fake)
    code, out, _ = run(capsys, "bench", "landscape", "--grid", "5", "--n-images", "64", "--json")
    assert code == 0 and json.loads(out) == {"ours_s_per_point": 0.5, "ratio": 12.0}
    assert seen == {"device": "cpu", "grid": 5, "n_images": 64, "seed": 0}
    code, out, _ = run(capsys, "bench", "landscape")
    assert out.splitlines() == ["ours_s_per_point: 0.5", "ratio: 12"]


@pytest.mark.slow
def test_bench_train_times_both_paths():
    result = bench.bench_train(
        device="cpu", models=("simplecnn",), steps=1, warmup=0, batch_size=16, workers=0
    )
    (row,) = result["results"]
    assert row["model"] == "simplecnn" and row["ours_images_per_s"] > 0 and row["reference_images_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["ours_images_per_s"] / row["reference_images_per_s"])
    assert len(row["ours_runs"]) == len(row["reference_runs"]) == 2  # alternating rounds, best kept
    assert result["device"] == "cpu" and result["torch"] == str(torch.__version__)


def test_bench_landscape_smoke():
    pytest.importorskip("loss_landscapes")  # the comparison package is a dev extra
    from resnet_edu.bench import bench_landscape

    r = bench_landscape(grid=1, n_images=4)
    assert len(r["ours_runs"]) == len(r["theirs_runs"]) == 2  # alternating rounds, best kept
    assert r["ours_s_per_point"] > 0 and r["theirs_s_per_point"] > 0 and r["speedup"] > 0
    assert r["ours_loss_at_origin"] == pytest.approx(r["eager_loss_at_origin"], rel=1e-4)
