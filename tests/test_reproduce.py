"""Command line: clean one-line errors with exit code 2, train/compare/bench end to end on tiny inputs."""

from __future__ import annotations

import json

import torch

from helpers import run, tiny_cifar_folder
from resnet_edu.training.records import History


def test_reproduce_runs_the_queue_skips_finished_jobs_and_respects_the_budget(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EDU_CACHE", str(tmp_path / "cache"))
    data, out = str(tiny_cifar_folder(tmp_path / "cifar")), str(tmp_path / "results")
    base = ["reproduce", "--manifest", "tiny", "--out", out, "--data", data, "--json"]
    code, stdout, _ = run(capsys, *base, "--status")
    assert code == 0 and [r["done"] for r in json.loads(stdout)] == [False, False, False]
    code, stdout, _ = run(capsys, *base, "--budget-s", "1e-9")  # out of time before the first step ends
    assert code == 0 and not any(r["done"] for r in json.loads(stdout))
    code, stdout, err = run(capsys, *base, "--only", "tiny/resnet20")
    rows = {r["job"]: r for r in json.loads(stdout)}
    assert code == 0 and "finished 1 job(s)" in err
    assert rows["tiny/resnet20"]["done"] and 0 <= rows["tiny/resnet20"]["ours_error"] <= 100
    assert rows["tiny/resnet20"]["paper_error"] == 50.0
    first = (tmp_path / "results" / "tiny" / "resnet20.json").read_bytes()
    code, stdout, _ = run(capsys, *base)
    assert code == 0 and all(r["done"] for r in json.loads(stdout))
    assert (tmp_path / "results" / "tiny" / "resnet20.json").read_bytes() == first  # skipped, not redone
    h = History.load(tmp_path / "results" / "tiny" / "plain20.json")
    assert h.meta["setting"] == "paper" and h.meta["data"].startswith("CIFAR-10 from")
    from resnet_edu.measure.landscape import Surface

    surface = Surface.load(tmp_path / "results" / "tiny" / "resnet20_surface.npz")
    assert surface.loss.shape == (3, 3) and surface.meta["job"] == "tiny/resnet20_surface"


def test_reproduce_status_lists_the_paper_manifest_and_refuses_to_train_it_on_a_cpu(capsys, tmp_path):
    code, stdout, _ = run(capsys, "reproduce", "--status", "--out", str(tmp_path), "--json")
    names = [r["job"] for r in json.loads(stdout)]
    assert code == 0 and "table6/resnet56" in names and "li2018/plain56_surface" in names
    assert "placements/resnet110_full_preact" in names and "compare/simplecnn_s2" in names
    if not torch.cuda.is_available():
        code, _, err = run(capsys, "reproduce", "--out", str(tmp_path), "--only", "table6/resnet20")
        assert code == 2 and "needs a CUDA GPU" in err and err.count("\n") == 1
    code, _, err = run(capsys, "reproduce", "--status", "--only", "table7", "--out", str(tmp_path))
    assert code == 2 and "no job matches table7" in err
