"""Command line: clean one-line errors with exit code 2, train/compare/bench end to end on tiny inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from resnet_edu import bench, cli
from resnet_edu.models import build_model, count_params
from resnet_edu.records import History

TINY = ["--synthetic", "--subset", "4", "--batch-size", "20", "--epochs", "1", "--lr", "0.05"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


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
        (["train", "--model", "resnet20", "--epochs", "0"], "epochs must be positive"),
        (["train", "--model", "resnet20", "--epochs", "1", "--lr", "-0.1"], "learning rate"),
        (["compare", "resnet20", "nope", "--epochs", "1"], "unknown model 'nope'"),
        (["train", "--model", "resnet20", "--epochs", "1", "--data", "/no/such/cifar"], "does not exist"),
        (
            ["train", "--model", "resnet20", "--epochs", "1", "--synthetic", "--subset", "0"],
            "must be positive",
        ),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_unwritable_out_dir_fails_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "train", "--model", "resnet20", "--out", str(blocker / "run"), *TINY)
    assert code == 2 and err.startswith("error: cannot write to output folder") and err.count("\n") == 1


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
    assert proc.stderr == "error: epochs must be positive, got 0\n"


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


def test_unknown_lesson_gives_one_error_line(capsys, tmp_path):
    code, out, err = run(capsys, "lessons", "09", "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith("error: unknown lesson '09'")
