"""Execute every lesson headless in the quick setting; any error in any cell fails the test."""

import os
import re
import shutil
import subprocess

import nbformat
import pytest

from helpers import write_notebook
from resnet_edu import course

NOTEBOOKS = sorted((course.ROOT / "notebooks").glob("*.ipynb"))


def test_every_lesson_exists():
    assert [p.stem for p in NOTEBOOKS] == list(course.LESSONS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_notebook_runs_in_the_quick_setting(path, tmp_path, monkeypatch, executed_lessons):
    monkeypatch.setenv("RESNET_EDU_FIGURES", str(tmp_path / "figures"))  # not into the clone
    before = git_status()
    [record] = course.run_lessons([path.stem], out=tmp_path, setting="quick", progress=False)
    assert git_status() == before, "a lesson run changed the clone's files"
    executed = nbformat.read(tmp_path / f"{path.stem}.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))  # every cell ran, in order
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "setting: quick" in text and "Traceback" not in text
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    saved = sorted(p.stem for p in (tmp_path / "figures").glob(f"{path.stem[:2]}_*.png"))
    assert saved and len(pictures) >= len(saved), "every saved figure is also shown in the lesson"
    assert record["seconds"] > 0
    shutil.copy2(tmp_path / f"{path.stem}.ipynb", executed_lessons)  # the site test builds from these


KOREAN = sorted((course.ROOT / "notebooks" / "ko").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", KOREAN, ids=lambda p: "ko" + p.stem[:2])
def test_korean_lesson_runs_and_prints_the_english_twin_s_conclusions(
    path, tmp_path, monkeypatch, executed_lessons
):
    """The Korean edition executes on its own, and its run reaches the same conclusions, seed for seed,
    as the English run of the same code (test_notebook_runs_in_the_quick_setting leaves that run)."""
    monkeypatch.setenv("RESNET_EDU_FIGURES", str(tmp_path / "figures"))
    english = executed_lessons / path.name
    if not english.exists():  # this test alone: run the English twin first
        course.run_lessons([path.stem], out=executed_lessons, setting="quick", progress=False)
    before = git_status()
    course.run_lessons([path.stem], out=tmp_path, directory=path.parent, setting="quick", progress=False)
    assert git_status() == before, "a Korean lesson run changed the clone's files"
    ran, twin = (nbformat.read(p, as_version=4) for p in (tmp_path / path.name, english))
    assert [c.source for c in ran.cells if c.cell_type == "markdown"] == [
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
    ]
    assert conclusions(ran) == conclusions(twin) and conclusions(ran), path.stem
    assert len(figures(ran)) == len(figures(twin))


def conclusions(nb) -> list[str]:
    """The lines a run concludes with: verdicts over seeds and computed conclusions (no timings in them)."""
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    return [
        line
        for line in text.splitlines()
        if "conclusion:" in line or re.search(r" in \d+ of \d+ seeds", line)
    ]


def figures(nb) -> list:
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})
    ]


def git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=course.ROOT, capture_output=True, text=True
    ).stdout


def code_cells(path) -> list[list[str]]:
    return [c.source.splitlines() for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_cells_read_at_a_glance(path):
    """An install cell, a set-up cell of at most 8 lines with the lesson's one import line from
    resnet_edu, then cells of at most 12 lines: the library computes, prints and tabulates."""
    install, setup, *rest = code_cells(path)
    assert any("%pip install" in line for line in install) and len(setup) <= 8
    imports = [
        line
        for cell in code_cells(path)
        for line in cell
        if line.startswith(("from resnet_edu", "import resnet_edu"))
    ]
    assert imports == [line for line in setup if line.startswith("from resnet_edu")] and len(imports) == 1
    assert f'S = course.start("{path.stem[:2]}")' in setup
    long = {i: len(cell) for i, cell in enumerate(rest, 3) if len(cell) > 12}
    assert not long, f"code cells over 12 lines (cell number: lines): {long}"


def test_run_lessons_executes_and_reports_failures(tmp_path):
    write_notebook(
        tmp_path / "01_ok.ipynb",
        "x = 6 * 7",
        "assert x == 42",
        "from resnet_edu.course.widgets import widgets_available\nassert not widgets_available()",
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
    with pytest.raises(FileNotFoundError, match="clone"):  # outside a clone: one clear line, not []
        course.run_lessons(directory=tmp_path / "no-notebooks", out=out)
