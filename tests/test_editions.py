"""The Korean edition: every lesson has a twin with the same cells and identical code, translating the
current English text with the terminology table's words; the machinery that keeps it so catches drift."""

import re

import nbformat
import pytest

from helpers import run
from resnet_edu import course
from resnet_edu.course import editions

EN, KO = editions.folder("en"), editions.folder("ko")
TABLE = editions.terms()


def pair(name):
    return nbformat.read(EN / f"{name}.ipynb", as_version=4), nbformat.read(
        KO / f"{name}.ipynb", as_version=4
    )


@pytest.mark.parametrize("name", course.LESSONS, ids=lambda n: n[:2])
def test_korean_twin_has_the_same_cells_identical_code_and_current_translations(name):
    english, korean = pair(name)
    assert editions.differences(english, korean, name) == []
    assert korean.metadata.get("language") == "ko"


@pytest.mark.parametrize("name", course.LESSONS, ids=lambda n: n[:2])
def test_korean_twin_uses_the_table_terms_and_none_of_the_alternatives(name):
    english, korean = pair(name)
    assert editions.term_problems(english, korean, TABLE, name) == []


@pytest.mark.parametrize("name", course.LESSONS, ids=lambda n: n[:2])
def test_korean_twin_is_korean_and_opens_itself_in_colab(name):
    english, korean = pair(name)
    title = korean.cells[0].source.splitlines()[0]
    assert title.startswith(f"# 레슨 {name[:2]} · ")
    assert f"blob/main/notebooks/ko/{name}.ipynb" in korean.cells[0].source
    for e, k in zip(english.cells, korean.cells):  # every prose cell is translated: Hangul in each
        if e.cell_type == "markdown" and re.search(r"[A-Za-z]{3}", editions.markdown({"cells": [e]})):
            assert re.search("[가-힣]", k.source), k.source[:80]
    assert all(not c.outputs for c in korean.cells if c.cell_type == "code")


def test_the_table_parses_and_its_korean_terms_are_not_ruled_out_elsewhere():
    assert len(TABLE) >= 30
    words = {t.korean for t in TABLE}
    assert {"잔차 학습", "단축 연결", "성능 저하 문제", "사전 활성화", "배치 정규화"} <= words
    ruled_out = {a for t in TABLE for a in t.avoid}
    assert not [w for w in words if any(a in w for a in ruled_out)]  # the table never forbids its own term


def lesson(*markdown, code=("x = 1",)):
    cells = [nbformat.v4.new_markdown_cell(m) for m in markdown] + [
        nbformat.v4.new_code_cell(c) for c in code
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_an_edited_english_cell_is_named_with_its_korean_twin():
    english = lesson("# Title", "A shortcut adds the input.")
    korean = editions.translate(english, {0: "# 제목", 1: "단축 연결은 입력을 더한다."})
    assert editions.differences(english, korean) == []
    english.cells[1].source = "A shortcut adds the input back."
    [found] = editions.differences(english, korean, "99")
    assert found.startswith("99: English Markdown cell 1 ('A shortcut adds the input back.')")
    assert "Korean cell 1" in found
    assert editions.sync(english, korean) == [1]


def test_sync_copies_changed_code_and_differences_catch_it_first():
    english = lesson("# Title", code=("x = 1", "print(x)"))
    korean = editions.translate(english, {0: "# 제목"})
    english.cells[2].source = "print(x + 1)"
    assert editions.differences(english, korean) == [
        "code cell 2 differs from the English one (run `python -m resnet_edu edition`)"
    ]
    assert editions.sync(english, korean) == [] and korean.cells[2].source == "print(x + 1)"
    english.cells.append(nbformat.v4.new_markdown_cell("More."))
    assert editions.differences(english, korean)[0] == "the English lesson has 4 cells, the Korean one 3"
    with pytest.raises(ValueError, match="differ in number or type"):
        editions.sync(english, korean)


def test_translate_needs_exactly_the_markdown_cells_and_drops_outputs():
    english = lesson("# Title", "Text.")
    english.cells[2].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    with pytest.raises(ValueError, match=r"missing \[1\]"):
        editions.translate(english, {0: "# 제목"})
    with pytest.raises(ValueError, match=r"not Markdown \[2\]"):
        editions.translate(english, {0: "# 제목", 1: "글.", 2: "코드"})
    korean = editions.translate(english, {0: "# 제목", 1: "글."})
    assert korean.cells[2].outputs == [] and english.cells[2].outputs  # the English notebook is untouched


def test_a_translation_file_reads_cell_by_cell():
    text = "<!-- cell 0 -->\n# 제목\n\n<!-- cell 3 -->\n첫 줄\n둘째 줄\n"
    assert editions.read_texts(text) == {0: "# 제목", 3: "첫 줄\n둘째 줄"}
    with pytest.raises(ValueError, match="no '<!-- cell N -->'"):
        editions.read_texts("# 제목")


def test_with_outputs_takes_the_english_run_only_for_identical_code():
    english = lesson("# Title", code=("print(1)",))
    korean = editions.translate(english, {0: "# 제목"})
    english.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    merged = editions.with_outputs(korean, english)
    assert merged.cells[1].outputs == english.cells[1].outputs and merged.cells[0].source == "# 제목"
    english.cells[1].source = "print(2)"
    with pytest.raises(ValueError, match="code cell 1 differs"):
        editions.with_outputs(korean, english)


def test_term_problems_find_a_missing_term_and_a_ruled_out_one(tmp_path):
    table = tmp_path / "TERMS.md"
    table.write_text(
        "| English | 한국어 | 쓰지 않는 표현 |\n|---|---|---|\n"
        "| shortcut | 단축 연결 | 숏컷 / 지름길 연결 |\n| degradation | 성능 저하 문제 | 열화 |\n"
    )
    rows = editions.terms(table)
    assert [(t.english, t.korean, t.avoid) for t in rows][0] == (
        ("shortcut",),
        "단축 연결",
        ("숏컷", "지름길 연결"),
    )
    english = lesson("A shortcut helps; `degradation` in code does not count.")
    good = lesson("단축 연결이 돕는다. `degradation`")
    assert editions.term_problems(english, good, rows) == []
    bad = lesson("숏컷이 돕는다.")
    assert editions.term_problems(english, bad, rows, "01") == [
        "01: the English lesson says 'shortcut' but the Korean one never '단축 연결'",
        "01: uses '숏컷'; the table's term is '단축 연결'",
    ]


def test_edition_command_reports_in_step_lessons(capsys):
    code, out, err = run(capsys, "edition")
    assert code == 0, err
    assert f"{len(course.LESSONS)} Korean lessons in step" in out


def copy_of_the_lessons(tmp_path):
    import shutil

    shutil.copytree(EN, tmp_path / "notebooks")
    return tmp_path


def test_an_edited_translation_is_marked_current_and_bad_marks_change_nothing(tmp_path):
    root = copy_of_the_lessons(tmp_path)
    name = course.LESSONS[0]
    english_path = editions.folder("en", root) / f"{name}.ipynb"
    english = nbformat.read(english_path, as_version=4)
    english.cells[0].source += "\n\nOne more sentence."
    nbformat.write(english, english_path)
    with pytest.raises(ValueError, match=r"01 cell 0$"):
        editions.sync_all(root)
    korean_path = editions.folder("ko", root) / f"{name}.ipynb"
    before = korean_path.read_bytes()
    for bad, message in (
        ("01:1", "no Markdown twin of English cell 1"),
        ("1x", "not LESSON:CELL"),
        ("99:0", "unknown"),
    ):
        with pytest.raises(ValueError, match=message):
            editions.mark_translated(["01:0", bad], root)
        assert korean_path.read_bytes() == before  # nothing written, not even the good mark
    assert editions.mark_translated(["01:0"], root).startswith("marked 1 Korean cells")
    assert editions.sync_all(root).startswith(f"{len(course.LESSONS)} Korean lessons in step")


def test_a_translation_file_builds_the_korean_lesson(tmp_path):
    root = copy_of_the_lessons(tmp_path)
    english = nbformat.read(EN / f"{course.LESSONS[0]}.ipynb", as_version=4)
    sections = [
        f"<!-- cell {i} -->\n번역 {i}\n" for i, c in enumerate(english.cells) if c.cell_type == "markdown"
    ]
    (tmp_path / "01.md").write_text("\n".join(sections), encoding="utf-8")
    out = editions.translate_file("01", tmp_path / "01.md", root)
    korean = nbformat.read(out, as_version=4)
    assert out == editions.folder("ko", root) / f"{course.LESSONS[0]}.ipynb"
    assert editions.differences(english, korean) == [] and korean.cells[0].source == "번역 0"
