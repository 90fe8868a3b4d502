"""What each command does, called directly: checks before any work, the settings it builds, what it
refuses to replace, and a diverged run that keeps its history (the CLI's parsing is `test_cli`)."""

import argparse

import pytest

from resnet_edu import commands
from resnet_edu.cli import build_parser
from resnet_edu.data.files import DataError
from resnet_edu.training.fit import TrainingDiverged
from resnet_edu.training.records import History


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_writable_dir_creates_the_folder_and_refuses_what_cannot_be_written(tmp_path):
    assert commands.writable_dir(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir() and not list(
        (tmp_path / "a" / "b").iterdir()
    )  # no probe file left
    (tmp_path / "file").write_text("x")
    with pytest.raises(PermissionError, match="cannot write to output folder"):
        commands.writable_dir(str(tmp_path / "file" / "under"))
    with pytest.raises(ValueError, match="empty"):
        commands.writable_dir("  ")


def test_train_config_takes_only_the_flags_given():
    cfg = commands.train_config(
        args("train", "--model", "resnet20", "--epochs", "3", "--out", "o", "--lr", "0.2")
    )
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.channels_last) == (
        3,
        0.2,
        128,
        None,
    )  # the rest: defaults
    cfg = commands.train_config(
        args("train", "--model", "m", "--epochs", "1", "--out", "o", "--channels-last")
    )
    assert cfg.channels_last is True


@pytest.mark.parametrize("subset", [0, 100000, 2.5])
def test_load_data_checks_the_subset_before_reading_anything(subset):
    namespace = args("train", "--model", "m", "--epochs", "1", "--out", "o", "--subset", "1")
    namespace.subset = subset  # what argparse refuses; a caller's own Namespace can still hold it
    with pytest.raises(DataError, match="--subset must be a positive whole number no larger than 10,000"):
        commands.load_data(namespace)


def test_load_data_without_cifar_names_the_synthetic_way_out(monkeypatch):
    monkeypatch.delenv("RESNET_EDU_DATA", raising=False)
    with pytest.raises(DataError, match="--synthetic"):
        commands.load_data(args("train", "--model", "m", "--epochs", "1", "--out", "o"))
    train, test, source = commands.load_data(
        args("train", "--model", "m", "--epochs", "1", "--out", "o", "--synthetic", "--subset", "3")
    )
    assert len(train) == 30 and "synthetic" in source


def test_train_named_refuses_to_replace_a_finished_run_and_keeps_a_diverged_ones_history(tmp_path):
    base = [
        "train",
        "--model",
        "resnet20",
        "--epochs",
        "1",
        "--synthetic",
        "--subset",
        "4",
        "--batch-size",
        "20",
    ]
    out = ["--out", str(tmp_path)]
    (tmp_path / "resnet20.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds a run"):
        commands.train_named(["resnet20"], args(*base, *out))
    with pytest.raises(TrainingDiverged, match="diverged.*the run already in .* was kept"):
        commands.train_named(["resnet20"], args(*base, *out, "--force", "--lr", "1e30"))
    assert (tmp_path / "resnet20.json").read_text() == "{}"  # no checkpoint of the new run: the old one stays
    fresh = ["--out", str(tmp_path / "fresh")]
    with pytest.raises(TrainingDiverged, match="diverged"):
        commands.train_named(["resnet20"], args(*base, *fresh, "--lr", "1e30"))
    assert History.load(tmp_path / "fresh" / "resnet20.json").meta["diverged"] is True


def test_an_unknown_model_or_device_fails_before_any_data_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "load_data", lambda a: pytest.fail("read data first"))
    with pytest.raises(ValueError, match="unknown model"):
        commands.train_named(
            ["resnet21"], args("train", "--model", "resnet21", "--epochs", "1", "--out", str(tmp_path))
        )
    with pytest.raises(ValueError, match="CUDA"):
        commands.train_named(
            ["resnet20"],
            args("train", "--model", "resnet20", "--epochs", "1", "--out", str(tmp_path), "--device", "cuda"),
        )
