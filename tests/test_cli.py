"""Command line: clean one-line errors with exit code 2, train/compare/bench end to end on tiny inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from helpers import run
from resnet_edu.nets.models import build_model, count_params
from resnet_edu.training.records import History

TINY = ["--synthetic", "--subset", "4", "--batch-size", "20", "--epochs", "1", "--lr", "0.05"]


def test_models_json_lists_paper_parameter_counts(capsys):
    code, out, _ = run(capsys, "models", "resnet20", "resnet18", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0
    # The paper's 0.27M (Table 6); exactly 269,722 with option A shortcuts and BN affine parameters.
    assert rows["resnet20"]["params"] == count_params(build_model("resnet20")) == 269722
    assert rows["resnet18"]["params"] == pytest.approx(11.17e6, abs=0.01e6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "resnet5", "--epochs", "1"], "unknown model 'resnet5'"),
        (
            ["train", "--model", "resnet20", "--epochs", "0"],
            "argument --epochs: must be a whole number in 1..100000",
        ),
        (["train", "--model", "resnet20", "--epochs", "1", "--lr", "-0.1"], "learning rate"),
        (["compare", "resnet20", "nope", "--epochs", "1"], "unknown model 'nope'"),
        (["train", "--model", "resnet20", "--epochs", "1", "--data", "/no/such/cifar"], "does not exist"),
        (
            ["train", "--model", "resnet20", "--epochs", "1", "--synthetic", "--subset", "0"],
            "argument --subset: must be a whole number in 1..10000",
        ),
        (["train", "--model", "resnet20", "--epochs", "1", "--device", "bogus"], "unknown device 'bogus'"),
        (
            ["train", "--model", "resnet20", "--epochs", "1", "--synthetic", "--subset", "99999999"],
            "--subset",
        ),
        pytest.param(
            ["train", "--model", "resnet20", "--epochs", "1", "--device", "cuda"],
            "no CUDA GPU",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
        (["train", "--model", "resnet20", "--epochs", "1", "--lr", "1e300"], "does not fit in float32"),
        (["bench", "landscape", "--n-images", "0"], "argument --n-images: must be a whole number in 1.."),
        (["bench", "landscape", "--grid", "0"], "argument --grid: must be a whole number in 1..1001"),
        (["bench", "train", "--steps", "0"], "argument --steps: must be a positive whole number"),
        (["bench", "train", "--device", "bogus"], "unknown device"),
        (["repository", "https://gitlab.com/a/b"], "not a GitHub repository address"),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(capsys, tmp_path, argv, message):
    out_flag = [] if argv[0] in ("bench", "repository") else ["--out", str(tmp_path / "out")]
    code, out, err = run(capsys, *argv, *out_flag)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_unwritable_out_dir_fails_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "train", "--model", "resnet20", "--out", str(blocker / "run"), *TINY)
    assert code == 2 and err.splitlines()[-1].startswith("error: cannot write to output folder")
    assert err.splitlines()[0].startswith("data: ") and err.count("\n") == 2  # the data line, then the error


def test_error_from_a_real_process_has_no_traceback(tmp_path):
    argv = [
        sys.executable,
        "-m",
        "resnet_edu",
        "train",
        "--model",
        "resnet20",
        "--epochs",
        "0",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "error: argument --epochs: must be a whole number in 1..100000, got 0\n"


def test_train_writes_history_and_checkpoint_then_resumes(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--model", "resnet20", "--out", str(tmp_path), "--json", *TINY)
    assert code == 0 and "synthetic" in err
    summary = json.loads(out)
    assert summary["model"] == "resnet20" and 0 <= summary["final_test_acc"] <= 1
    h = History.load(tmp_path / "resnet20.json")
    assert len(h.records) == 1 and h.config["lr"] == 0.05 and h.meta["model"] == "resnet20"
    assert torch.load(tmp_path / "resnet20.pt", weights_only=True)["epoch"] == 1
    more = [a if a != "1" else "2" for a in TINY]  # --epochs 2
    code, out, _ = run(capsys, "train", "--model", "resnet20", "--out", str(tmp_path), "--resume", *more)
    assert code == 0 and "resnet20" in out
    assert [r["epoch"] for r in History.load(tmp_path / "resnet20.json").records] == [1, 2]


def test_compare_writes_both_histories_a_figure_and_a_table(capsys, tmp_path):
    figures = tmp_path / "figs"
    argv = ["compare", "resnet20", "simplecnn", "--out", str(tmp_path), "--figures", str(figures), *TINY]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert (tmp_path / "resnet20.json").exists() and (tmp_path / "simplecnn.json").exists()
    assert (figures / "compare_resnet20_vs_simplecnn.png").stat().st_size > 0
    lines = out.splitlines()
    assert "best acc" in lines[0] and lines[1].startswith("resnet20") and lines[2].startswith("simplecnn")


def test_unknown_lesson_gives_one_error_line(capsys, tmp_path):
    code, out, err = run(capsys, "lessons", "09", "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith("error: unknown lesson '09'")


def test_an_empty_out_or_lessons_out_under_a_file_is_refused(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--model", "resnet20", "--out", "", *TINY)
    assert code == 2 and err.startswith("error: the output folder is empty") and err.count("\n") == 1
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "lessons", "01", "--out", str(blocker / "executed"))
    assert code == 2 and err.splitlines()[-1].startswith("error: cannot write to output folder")


def test_a_finished_run_is_never_replaced_without_force(capsys, tmp_path):
    assert run(capsys, "train", "--model", "simplecnn", "--out", str(tmp_path), *TINY)[0] == 0
    before = (tmp_path / "simplecnn.pt").read_bytes()
    code, _, err = run(capsys, "train", "--model", "simplecnn", "--out", str(tmp_path), *TINY)
    assert code == 2 and "already holds a run" in err and "--force" in err
    assert (tmp_path / "simplecnn.pt").read_bytes() == before  # untouched
    code, _, _ = run(capsys, "train", "--model", "simplecnn", "--out", str(tmp_path), "--force", *TINY)
    assert code == 0


def test_the_same_seed_gives_identical_weights_through_the_cli(capsys, tmp_path):
    weights = []
    for run_dir in ("a", "b"):
        argv = ["train", "--model", "resnet20", "--out", str(tmp_path / run_dir), "--seed", "5", *TINY]
        assert run(capsys, *argv)[0] == 0
        weights.append(torch.load(tmp_path / run_dir / "resnet20.pt", weights_only=True)["model"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    argv = ["train", "--model", "resnet20", "--out", str(tmp_path / "c"), "--seed", "6", *TINY]
    assert run(capsys, *argv)[0] == 0
    other = torch.load(tmp_path / "c" / "resnet20.pt", weights_only=True)["model"]
    assert not all(torch.equal(weights[0][k], other[k]) for k in other)


def test_resuming_another_models_checkpoint_says_so(capsys, tmp_path):
    assert run(capsys, "train", "--model", "simplecnn", "--out", str(tmp_path), *TINY)[0] == 0
    (tmp_path / "simplecnn.pt").rename(tmp_path / "resnet20.pt")
    code, _, err = run(capsys, "train", "--model", "resnet20", "--out", str(tmp_path), "--resume", *TINY)
    assert code == 2 and err.count("\n") <= 2 and "checkpoint for another model" in err.splitlines()[-1]
    torch.save({"weights": 1}, tmp_path / "resnet20.pt")
    code, _, err = run(capsys, "train", "--model", "resnet20", "--out", str(tmp_path), "--resume", *TINY)
    assert code == 2 and "not a resnet_edu checkpoint" in err.splitlines()[-1]


def test_divergence_writes_the_partial_history_and_ends_with_one_error_line(capsys, tmp_path):
    argv = [
        "train",
        "--model",
        "resnet20",
        "--out",
        str(tmp_path),
        "--synthetic",
        "--subset",
        "4",
        "--batch-size",
        "20",
        "--epochs",
        "3",
        "--lr",
        "1e30",
    ]
    code, _, err = run(capsys, *argv)
    assert code == 1 and err.splitlines()[-1].startswith("error: training diverged")
    h = History.load(tmp_path / "resnet20.json")  # the partial history, beside the last checkpoint
    assert h.meta["diverged"] is True and h.meta["diverged_step"] >= 0
