"""Execute every lesson headless in the quick setting; any error in any cell fails the test."""

import nbformat
import pytest

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
def test_notebook_runs_in_the_quick_setting(path, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EDU_FIGURES", str(tmp_path / "figures"))  # not into the clone
    [record] = course.run_lessons([path.stem], out=tmp_path, setting="quick", progress=False)
    assert record["seconds"] > 0
    assert list((tmp_path / "figures").glob(f"{path.stem[:2]}_*.png")), "the lesson saved no figure"
