"""The Korean edition (notebooks/ko/), kept in step with the English lessons.

A Korean lesson is its English twin with every Markdown cell translated: the same cells, in the same
order, of the same types, and byte-identical code, so both editions compute and print the same
things. Each translated cell records a fingerprint of the English text it translates
(`metadata["resnet_edu"]["translates"]`), so an English cell edited later is caught: `differences`
names both cells. `sync` copies the English code into the Korean lesson; `translate` builds a Korean
lesson from its English twin and a text per Markdown cell. `terms` reads the one terminology table
(notebooks/ko/TERMS.md) and `term_problems` checks a lesson against it.

The workflow (`python -m resnet_edu edition`): after an English edit, `edition` copies changed code
across and lists the Markdown cells to translate again; edit them in the Korean lesson, then
`edition --translated 01:12` records that they translate the current English. A new lesson's
translation is written as a file of `<!-- cell N -->` sections and built with `edition --from NN FILE`.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .settings import ROOT

EDITIONS = {"en": "notebooks", "ko": "notebooks/ko"}  # language: folder, relative to the repository
TERMS = "notebooks/ko/TERMS.md"
SYNC = "run `python -m resnet_edu edition`"  # copies the English code into the Korean lessons
CELL_MARK = re.compile(r"^<!-- cell (\d+) -->\s*$", re.M)  # a translation file's cell separator


def folder(lang: str, root: str | Path = ROOT) -> Path:
    """Where the lessons of edition `lang` live."""
    if lang not in EDITIONS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(EDITIONS)}")
    return Path(root) / EDITIONS[lang]


def fingerprint(text: str) -> str:
    """A short fingerprint of an English Markdown cell's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _translates(cell) -> str | None:
    return cell.get("metadata", {}).get("resnet_edu", {}).get("translates")


def _same_cells(a, b) -> bool:
    return [c["cell_type"] for c in a["cells"]] == [c["cell_type"] for c in b["cells"]]


def differences(english, korean, name: str = "") -> list[str]:
    """Every way the Korean notebook `korean` is not a twin of `english`, one sentence each: cell count,
    types, code, and Markdown cells that translate an older English text (naming both cells)."""
    where = f"{name}: " if name else ""
    en, ko = english["cells"], korean["cells"]
    found = []
    if len(en) != len(ko):
        found.append(f"{where}the English lesson has {len(en)} cells, the Korean one {len(ko)}")
    for i, (e, k) in enumerate(zip(en, ko)):
        if e["cell_type"] != k["cell_type"]:
            found.append(f"{where}cell {i} is {e['cell_type']} in English but {k['cell_type']} in Korean")
        elif e["cell_type"] == "code" and _source(e) != _source(k):
            found.append(f"{where}code cell {i} differs from the English one ({SYNC})")
        elif e["cell_type"] == "markdown" and _translates(k) != fingerprint(_source(e)):
            first = _source(e).strip().splitlines()[0][:60] if _source(e).strip() else ""
            found.append(
                f"{where}English Markdown cell {i} ({first!r}) changed since Korean cell {i} translated it"
            )
    return found


def translate(english, texts: dict[int, str]):
    """The Korean twin of `english`: each Markdown cell i replaced by texts[i] and marked with the
    fingerprint of the English text it translates. Every Markdown cell needs a text."""
    missing = [i for i, c in enumerate(english["cells"]) if c["cell_type"] == "markdown" and i not in texts]
    extra = [
        i
        for i in texts
        if not 0 <= i < len(english["cells"]) or english["cells"][i]["cell_type"] != "markdown"
    ]
    if missing or extra:
        raise ValueError(
            f"texts must cover exactly the Markdown cells: missing {missing}, not Markdown {extra}"
        )
    korean = copy.deepcopy(english)
    for i, cell in enumerate(korean["cells"]):
        if cell["cell_type"] == "markdown":
            cell["metadata"] = {"resnet_edu": {"translates": fingerprint(_source(cell))}}
            cell["source"] = texts[i].strip("\n")
        else:
            cell["outputs"], cell["execution_count"] = [], None
    korean["metadata"]["language"] = "ko"
    return korean


def read_texts(text: str) -> dict[int, str]:
    """A translation file's cells: text after each `<!-- cell N -->` line, up to the next one."""
    marks = list(CELL_MARK.finditer(text))
    if not marks:
        raise ValueError("no '<!-- cell N -->' lines: nothing to read")
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {int(m.group(1)): text[m.end() : end].strip("\n") for m, end in zip(marks, ends)}


def sync(english, korean) -> list[int]:
    """Copy `english`'s code cells into `korean` in place (cell for cell); return the Markdown cells
    whose English text changed since they were translated (those need a translator)."""
    if not _same_cells(english, korean):
        raise ValueError("the two lessons' cells differ in number or type; translate the lesson again")
    stale = []
    for i, (e, k) in enumerate(zip(english["cells"], korean["cells"])):
        if e["cell_type"] == "code":
            k["source"] = _source(e)
        elif _translates(k) != fingerprint(_source(e)):
            stale.append(i)
    return stale


def _pair(name: str, root: str | Path):
    import nbformat

    en, ko = folder("en", root) / f"{name}.ipynb", folder("ko", root) / f"{name}.ipynb"
    if not ko.exists():
        raise ValueError(f"no Korean lesson {ko}: translate {en.name} first")
    return nbformat.read(en, as_version=4), nbformat.read(ko, as_version=4), ko


def _lesson(number: str) -> str:
    from .lessons import LESSONS

    found = [name for name in LESSONS if name.startswith(number)]
    if len(found) != 1 or not number:
        raise ValueError(f"unknown lesson {number!r}; use a number such as 01")
    return found[0]


def mark_translated(cells: list[str], root: str | Path = ROOT) -> str:
    """Record that the Korean cells named "NN:CELL" (lesson, cell index) now translate their English
    twins' current text: after editing a translation that `sync_all` listed."""
    import nbformat

    by_lesson: dict[str, list[int]] = {}
    for item in cells:
        number, _, cell = item.partition(":")
        if not cell.isdigit():
            raise ValueError(f"{item!r} is not LESSON:CELL, e.g. 01:12")
        by_lesson.setdefault(_lesson(number), []).append(int(cell))
    pairs = {name: _pair(name, root) for name in by_lesson}
    for name, indices in by_lesson.items():  # every cell is checked before any lesson is written
        english, korean, _ = pairs[name]
        bad = [
            i for i in indices if i >= len(korean["cells"]) or korean["cells"][i]["cell_type"] != "markdown"
        ]
        if bad or not _same_cells(english, korean):
            raise ValueError(
                f"Korean lesson {name[:2]} has no Markdown twin of English cell {(bad or indices)[0]}"
            )
    for name, indices in by_lesson.items():
        english, korean, path = pairs[name]
        for i in indices:
            korean["cells"][i]["metadata"] = {
                "resnet_edu": {"translates": fingerprint(_source(english["cells"][i]))}
            }
        nbformat.write(korean, path)
    return f"marked {len(cells)} Korean cells as translating the current English text"


def translate_file(number: str, path: str | Path, root: str | Path = ROOT) -> Path:
    """Write the Korean lesson `number` from its English twin and a translation file (`read_texts`)."""
    import nbformat

    name = _lesson(number)
    english = nbformat.read(folder("en", root) / f"{name}.ipynb", as_version=4)
    korean = translate(english, read_texts(Path(path).read_text(encoding="utf-8")))
    out = folder("ko", root) / f"{name}.ipynb"
    nbformat.write(korean, out)
    return out


def sync_all(root: str | Path = ROOT) -> str:
    """`sync` every Korean lesson in `root` with its English twin, writing the ones whose code changed;
    a `ValueError` naming the Markdown cells that need translating again, else a one-line summary."""
    import nbformat

    from .lessons import LESSONS

    written, stale = [], []
    for name in LESSONS:
        english, korean, ko = _pair(name, root)
        before = nbformat.writes(korean)
        stale += [f"{name[:2]} cell {i}" for i in sync(english, korean)]
        if nbformat.writes(korean) != before:
            nbformat.write(korean, ko)
            written.append(name[:2])
    if stale:
        raise ValueError(
            f"the English text changed since these Korean cells translated it: {', '.join(stale)}"
        )
    return f"{len(LESSONS)} Korean lessons in step; code copied into {', '.join(written) or 'none'}"


def with_outputs(korean, english_executed):
    """The Korean lesson with the outputs of its English twin's executed copy, cell for cell: the code
    is identical (checked: a `ValueError` otherwise), so these are the outputs the Korean copy prints.
    How the website shows the Korean edition without executing every lesson twice."""
    if not _same_cells(korean, english_executed):
        raise ValueError("the Korean lesson's cells differ from the executed English lesson's")
    merged = copy.deepcopy(korean)
    for i, (k, e) in enumerate(zip(merged["cells"], english_executed["cells"])):
        if k["cell_type"] == "code":
            if _source(k) != _source(e):
                raise ValueError(f"code cell {i} differs between the editions: {SYNC} and execute again")
            k["outputs"], k["execution_count"] = copy.deepcopy(e["outputs"]), e.get("execution_count")
    return merged


@dataclass(frozen=True)
class Term:
    english: tuple[str, ...]  # the English spellings, lower case
    korean: str
    avoid: tuple[str, ...]

    def in_english(self, text: str) -> bool:
        lower = text.lower()
        return any(re.search(rf"\b{re.escape(e)}", lower) for e in self.english)


def terms(path: str | Path | None = None) -> list[Term]:
    """The rows of the terminology table."""
    path = Path(path) if path else ROOT / TERMS
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.startswith("|") or set(cells[0]) <= set("-: ") or cells[1] == "한국어":
            continue
        split = lambda s: tuple(p.strip() for p in s.split("/") if p.strip())
        rows.append(Term(tuple(e.lower() for e in split(cells[0])), cells[1], split(cells[2])))
    if not rows:
        raise ValueError(f"{path} has no terminology table")
    return rows


def markdown(nb) -> str:
    """All Markdown text of a notebook on one line (a term may wrap), without blockquote markers, code
    spans and display code (they stay in English)."""
    text = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"^[ \t]*>[ \t]?", "", text, flags=re.M)  # a blockquote's markers, which may split a term
    return re.sub(r"\s+", " ", re.sub(r"`[^`\n]*`", " ", text))


def term_problems(english, korean, table: list[Term], name: str = "") -> list[str]:
    """Terms the English lesson uses whose Korean word the Korean lesson lacks, and alternatives the
    table rules out that the Korean lesson uses."""
    where = f"{name}: " if name else ""
    en, ko = markdown(english), markdown(korean)
    found = []
    for t in table:
        if t.in_english(en) and t.korean not in ko:
            found.append(
                f"{where}the English lesson says {t.english[0]!r} but the Korean one never {t.korean!r}"
            )
        found += [f"{where}uses {a!r}; the table's term is {t.korean!r}" for a in t.avoid if a in ko]
    return found
