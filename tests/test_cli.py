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
        (["bench", "landscape", "--n-images", "0"], "--n-images must be positive"),
        (["bench", "landscape", "--grid", "0"], "--grid must be positive"),
        (["bench", "train", "--steps", "0"], "--steps must be positive"),
        (["bench", "train", "--device", "bogus"], "unknown device"),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(capsys, tmp_path, argv, message):
    out_flag = [] if argv[0] == "bench" else ["--out", str(tmp_path / "out")]
    code, out, err = run(capsys, *argv, *out_flag)
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
    argv = ["train", "--model", "resnet20", "--out", str(tmp_path), "--synthetic", "--subset", "4",
            "--batch-size", "20", "--epochs", "3", "--lr", "1e30"]  # fmt: skip
    code, _, err = run(capsys, *argv)
    assert code == 1 and err.splitlines()[-1].startswith("error: training diverged")
    h = History.load(tmp_path / "resnet20.json")  # the partial history, beside the last checkpoint
    assert h.meta["diverged"] is True and h.meta["diverged_step"] >= 0


def tiny_cifar_folder(root, n=4):
    """A CIFAR-10-shaped ImageFolder (real JPEG files, the 10 class names), n images per class and split."""
    from PIL import Image

    from resnet_edu.data import CLASSES

    g = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = (torch.rand(32, 32, 3, generator=g) * 60 + 20 * c).clamp(0, 255).to(torch.uint8)
                Image.fromarray(pixels.numpy()).save(root / split / name / f"{i}.jpg")
    return root


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
    from resnet_edu.landscape import Surface

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
