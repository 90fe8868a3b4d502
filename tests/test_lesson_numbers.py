"""Every number a lesson's Markdown quotes is a paper constant or a setting its code defines.

Measured numbers are printed by the run (an f-string, a table), never typed into Markdown: typed
digits are right on one machine and one seed only. Allowed in Markdown: numbers in formulas ($...$),
numbers of `paper.py` (the papers' table), numbers that appear in the lesson's own code cells (its
settings), the course's quick data sizes, small counts (0-12), years, and references such as
"Fig. 6", "Eq. 5", "Sec. 4.2", "Table 6", "lesson 02".
"""

import re
from pathlib import Path

import nbformat
import pytest

from resnet_edu import course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "ko").glob("*.ipynb"))
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?(?![\w])")
REFERENCE = re.compile(
    r"(?:Fig(?:ure|s)?\.?|Eqs?\.?|Equation|Sec(?:tion)?\.?|Table|Tab\.|lessons?|Lessons?|Exercise|exercise|"
    r"step|Step|Question|question|goal|Goal|ResNet-|plain-|resnet|plain|ResNet|CIFAR-|block|Block|"
    r"depth|width|version|v)\s*$"
)


def paper_numbers() -> set[str]:
    text = (ROOT / "resnet_edu" / "course" / "paper.py").read_text()
    return {_norm(n) for n in NUMBER.findall(text)}


def _norm(token: str) -> str:
    t = token.rstrip("%").replace(",", "").lstrip("+")
    try:
        value = float(t)
    except ValueError:
        return t
    return f"{value:g}"


def _strip(md: str) -> str:
    md = re.sub(r"\$\$.*?\$\$", " ", md, flags=re.S)  # display math
    md = re.sub(r"\$[^$]*\$", " ", md)  # inline math
    md = re.sub(r"`[^`]*`", " ", md)  # code spans
    md = re.sub(r"```.*?```", " ", md, flags=re.S)  # code blocks in solutions
    md = re.sub(r"\(https?://[^)]*\)|https?://\S+", " ", md)  # links
    md = re.sub(r"<[^>]+>", " ", md)  # html tags
    md = re.sub(r"^\s*(?:\d+\.|[-*])\s", " ", md, flags=re.M)  # list markers
    return md


def offending_numbers(nb_path: Path) -> list[str]:
    nb = nbformat.read(nb_path, as_version=4)
    code = " ".join(c.source for c in nb.cells if c.cell_type == "code")
    allowed = paper_numbers() | {_norm(n) for n in NUMBER.findall(code)}
    allowed |= {_norm(str(v)) for sizes in course.settings.QUICK_DATA.values() for v in sizes}
    bad = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        text = _strip(cell.source)
        for m in NUMBER.finditer(text):
            token, before = m.group(), text[max(0, m.start() - 12) : m.start()]
            value = _norm(token)
            try:
                number = float(value)
            except ValueError:
                continue
            as_fraction = _norm(str(number / 100)) if token.endswith("%") else None  # "75%" of 0.75
            if value in allowed or as_fraction in allowed or REFERENCE.search(before):
                continue
            if number.is_integer() and 0 <= number <= 12:
                continue
            if number.is_integer() and 1900 <= number <= 2099:  # a year
                continue
            context = text[max(0, m.start() - 40) : m.end() + 30].replace("\n", " ")
            bad.append(f"{nb_path.stem} cell {i}: {token!r} in '...{context}...'")
    return bad


# Numbers typed into Markdown before this check existed: each is to be replaced by a sentence that
# holds on any machine and a number printed by the run. This list may only shrink; the test fails on
# any other typed number, and on an entry here that no longer occurs (remove it then).
KNOWN = {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name.replace("notebooks", "") + p.stem[:2])
def test_markdown_quotes_no_new_measured_number(path):  # both editions
    bad = offending_numbers(path)
    known = KNOWN.get(path.stem[:2], set())
    new = [b for b in bad if re.search(r": '(.*?)' in", b).group(1) not in known]
    assert not new, "numbers typed into Markdown (print them from the run instead):\n" + "\n".join(new)
    gone = known - {re.search(r": '(.*?)' in", b).group(1) for b in bad}
    assert not gone, f"no longer typed in {path.stem}: remove {sorted(gone)} from KNOWN"


def test_the_check_catches_a_typed_number(tmp_path):
    text = "After 30 epochs the loss is 1.234 (He et al. 2015, Fig. 6; $e^{0.5}$)."
    cells = [nbformat.v4.new_code_cell("epochs = 30"), nbformat.v4.new_markdown_cell(text)]
    nb = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    bad = offending_numbers(path)
    assert len(bad) == 1 and "'1.234'" in bad[0]  # 30 is a setting, 2015 a year, Fig. 6 a reference
