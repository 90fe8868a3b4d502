import os

import nbformat
import pytest
import torch

from resnet_edu import course


def test_setting_follows_the_environment(monkeypatch):
    monkeypatch.setenv("RESNET_EDU_FULL", "1")
    assert course.setting().full and course.setting().pick(1, 2) == 2
    monkeypatch.setenv("RESNET_EDU_FULL", "0")
    assert not course.setting().full and course.setting().pick(1, 2) == 1
    monkeypatch.delenv("RESNET_EDU_FULL")
    assert course.setting().full == torch.cuda.is_available()


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
    monkeypatch.delenv("RESNET_EDU_FIGURES", raising=False)
    assert course.project_dir("figures") == course.ROOT / "figures"
    monkeypatch.setenv("RESNET_EDU_FIGURES", str(tmp_path))
    assert course.project_dir("figures") == tmp_path
    assert course.project_dir("results") == course.ROOT / "results"


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)


def test_run_lessons_executes_and_reports_failures(tmp_path):
    write_notebook(
        tmp_path / "01_ok.ipynb",
        "x = 6 * 7",
        "assert x == 42",
        "from resnet_edu.widgets import widgets_available\nassert not widgets_available()",
    )
    write_notebook(tmp_path / "02_bad.ipynb", "raise ValueError('learning rate must be positive')")
    out = tmp_path / "out"
    records = course.run_lessons(["01"], directory=tmp_path, out=out, progress=False)
    assert [r["lesson"] for r in records] == ["01_ok"]
    executed = nbformat.read(out / "01_ok.ipynb", as_version=4)
    assert executed.cells[0].execution_count == 1
    with pytest.raises(RuntimeError, match="02_bad failed: ValueError: learning rate must be positive"):
        course.run_lessons(["02"], directory=tmp_path, out=out, progress=False)
    assert (out / "02_bad.ipynb").exists()
    assert "RESNET_EDU_HEADLESS" not in os.environ  # the caller's environment is restored
    with pytest.raises(ValueError, match="unknown lesson '07'"):
        course.run_lessons(["07"], directory=tmp_path, out=out)
