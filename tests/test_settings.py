import pytest
import torch

from resnet_edu import course
from resnet_edu.data import DataError


def test_setting_follows_the_environment(monkeypatch):
    monkeypatch.setenv("RESNET_EDU_SETTING", "paper")
    assert course.setting().name == "paper" and course.setting().pick(1, 2, 3) == 3
    assert course.setting().pick(1, 2) == 2  # paper defaults to the gpu value
    monkeypatch.setenv("RESNET_EDU_SETTING", "gpu")
    assert course.setting().pick(1, 2, 3) == 2
    monkeypatch.setenv("RESNET_EDU_SETTING", "quick")
    assert course.setting().pick(1, 2, 3) == 1
    monkeypatch.setenv("RESNET_EDU_SETTING", "full")
    with pytest.raises(ValueError, match="not a setting"):
        course.setting()
    monkeypatch.delenv("RESNET_EDU_SETTING")
    assert course.setting().name == ("gpu" if torch.cuda.is_available() else "quick")


def test_gpu_and_paper_settings_refuse_synthetic_data(monkeypatch, tmp_path):
    monkeypatch.delenv("RESNET_EDU_DATA", raising=False)
    monkeypatch.setenv("RESNET_EDU_CACHE", str(tmp_path))
    with pytest.raises(DataError, match="no CIFAR-10 source"):
        course.lesson_data(3, 2, download=False, fallback=False)
    train, test, source = course.lesson_data(3, 2, synthetic=True)
    assert source.startswith("synthetic") and len(train) == 30 and len(test) == 20


def test_start_prints_the_setting_and_the_banner(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("RESNET_EDU_DATA", raising=False)
    monkeypatch.setenv("RESNET_EDU_CACHE", str(tmp_path))
    monkeypatch.setenv("RESNET_EDU_SETTING", "quick")
    monkeypatch.setattr(
        course.settings, "load_cifar10", lambda *a, **k: (_ for _ in ()).throw(DataError("offline"))
    )
    s = course.start("04")
    out = capsys.readouterr().out
    assert "setting: quick" in out and "!!! SYNTHETIC DATA" in out
    assert s.train.images.shape[-1] == 16 and s.pick(1, 2) == 1  # lesson 04's quick data is 16x16
    monkeypatch.setenv("RESNET_EDU_SETTING", "gpu")
    with pytest.raises(DataError):
        course.start("04")


def test_lesson_data_falls_back_to_synthetic_with_a_banner(monkeypatch, tmp_path):
    monkeypatch.delenv("RESNET_EDU_DATA", raising=False)
    monkeypatch.setenv("RESNET_EDU_CACHE", str(tmp_path))
    train, test, source = course.lesson_data(3, 2, download=False)
    assert source.startswith("!!! SYNTHETIC DATA") and "RESNET_EDU_DATA" in source
    assert train.labels.bincount().tolist() == [3] * 10 and len(test) == 20


def test_lesson_data_uses_the_real_copy(real_data_path):
    train, test, source = course.lesson_data(2, 1)
    assert "CIFAR-10 from" in source and train.classes[0] == "airplane"
    assert len(train) == 20 and len(test) == 10


def test_output_folders_can_be_moved(monkeypatch, tmp_path):
    """In a clone, figures go to the git-ignored executed/figures (never the README's tracked ones)."""
    monkeypatch.delenv("RESNET_EDU_FIGURES", raising=False)
    assert course.project_dir("figures") == course.ROOT / "executed" / "figures"
    assert "/executed/" in (course.ROOT / ".gitignore").read_text().split()
    monkeypatch.setenv("RESNET_EDU_FIGURES", str(tmp_path))
    assert course.project_dir("figures") == tmp_path
    assert course.project_dir("results") == course.ROOT / "results"
    assert course.settings.stored_dir() == course.ROOT / "results"


def test_outside_a_clone_stored_runs_come_from_the_package(monkeypatch, tmp_path, capsys):
    """An installed package (no clone) reads the stored runs it carries, and writes beside the learner."""
    from helpers import make_run

    shipped = tmp_path / "site-packages" / "stored"
    for h in (
        make_run("resnet18", 0, (0.5, 0.7), (0.4, 0.6), (1.5, 0.9)),
        make_run("resnet18", 1, (0.5, 0.8), (0.4, 0.7), (1.4, 0.8)),
    ):
        h.meta |= {"device_name": "NVIDIA H200", "setting": "paper"}
        h.save(shipped / "paper" / "compare" / f"resnet18_s{h.meta['seed']}.json")
    monkeypatch.setattr(course.settings, "ROOT", tmp_path / "no-clone")
    monkeypatch.setattr(course.settings, "STORED", shipped)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RESNET_EDU_FIGURES", raising=False)
    assert course.settings.stored_dir() == shipped
    assert course.project_dir("figures") == tmp_path / "figures"
    assert course.project_dir("results") == tmp_path / "results"
    S = course.Start(course.Setting("quick", "cpu"), None, None, "", tmp_path, tmp_path / "results")
    found = S.stored("paper/compare")
    assert len(found["histories"]) == 2 and "NVIDIA H200" in found["label"]
    assert "stored paper-setting run beside this one" in capsys.readouterr().out
    assert S.stored("paper/nothing") is None
    assert "No stored paper-setting run (paper/nothing)" in capsys.readouterr().out
