"""The course as a website: every executed lesson, with its printed outputs and figures, as static
pages built offline (`python -m resnet_edu site`, `make site`).

Sphinx with myst-nb renders the notebooks `make lessons` executed (it never executes them itself);
its search is a local index, its theme (alabaster) ships with Sphinx, and MathJax comes from the
`sphinx-mathjax-offline` package, so a build fetches nothing and a page requests nothing from another
host. Widgets cannot run without a kernel: their outputs become a line pointing to Colab, beside the
static figure the lesson draws for that case. `external_requests` lists what a page would load from
elsewhere (it should be nothing); the browser test in `tests/test_site.py` checks the rest.
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

from .lessons import LESSONS
from .links import repository
from .settings import ROOT

WIDGET = "application/vnd.jupyter.widget-view+json"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"  # Colab's badge: served from here instead
BADGE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" aria-label="Open in Colab">'
    '<rect width="117" height="20" rx="3" fill="#555"/>'
    '<rect x="40" width="77" height="20" rx="3" fill="#f9ab00"/>'
    '<rect x="40" width="6" height="20" fill="#f9ab00"/><g font-family="Verdana,DejaVu Sans,sans-serif" '
    'font-size="11" fill="#fff"><text x="6" y="14">Open</text><text x="46" y="14" fill="#222">in Colab</text>'
    "</g></svg>"
)
PROGRESS = re.compile(r"\d+%\|")  # a tqdm bar's text: "  0%|          | 0/48 [...]"
EXPLORER = re.compile(r"\bwidgets\.\w+_explorer\(")  # a lesson's explorer: a static figure without a kernel
DATA_PATH = re.compile(r"(CIFAR-10 from )\S*/([^/\s]+)")  # the data's folder on the machine that built it
NO_KERNEL = (
    "This is a live explorer: it needs a running kernel. Open the lesson in Colab (the badge at the top) "
    "or run it locally to move its sliders; the figure beside it shows its default view."
)
FAVICON = (  # F(x) + x: a branch and its shortcut
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
    'fill="#2a6ebb"/><path d="M4 13V3M4 3h8v5H4" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)
CONF = """# Sphinx configuration written by resnet_edu.course.site: edit that module, not this file.
project = "resnet-edu"
author = "the resnet-edu authors"
extensions = ["myst_nb", "sphinx-mathjax-offline"]
nb_execution_mode = "off"  # the lessons are executed by `make lessons`, never here
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
html_theme = "alabaster"
html_theme_options = {{"page_width": "1100px", "sidebar_width": "230px", "fixed_sidebar": False}}
html_sidebars = {{"**": ["navigation.html", "relations.html", "searchbox.html"]}}
html_title = "resnet-edu"
html_show_sourcelink = False
html_copy_source = False
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_favicon = "_static/favicon.svg"
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
html_context = {{"repository": "{repository}"}}
"""
CSS = """/* resnet-edu: text that fits a phone, figures that shrink, wide tables that scroll */
img { max-width: 100%; height: auto; }
div.body { min-width: 0; }
div.cell_output, div.highlight, .output, pre { overflow-x: auto; max-width: 100%; }
table.docutils, div.cell_output table { display: block; overflow-x: auto; max-width: 100%; }
div.math, mjx-container[display="true"] { overflow-x: auto; overflow-y: hidden; max-width: 100%; }
details { margin: 0.5em 0; padding: 0.3em 0.6em; border: 1px solid #ddd; border-radius: 4px; }
details summary { cursor: pointer; font-weight: bold; }
p.no-kernel { font-style: italic; color: #555; }
@media screen and (max-width: 875px) { div.body { padding: 0 12px; } }
"""


START = {  # the home page's last section, per edition
    "en": "\n\n## Start\n\nRead the lessons here; run them with the two commands at the top of this page "
    "after cloning [the repository]({repository}), or open any lesson in Colab from its badge.\n",
    "ko": "\n\n## 시작하기\n\n레슨은 여기서 읽을 수 있다. 직접 실행하려면 "
    "[저장소]({repository})를 복제한 뒤 이 페이지 맨 위의 두 명령을 쓰거나, "
    "각 레슨의 배지를 눌러 Colab에서 연다.\n",
}
SWITCH = {  # the link under each lesson's title to its twin in the other edition
    "en": "*[한국어판](../ko/lessons/{name}.ipynb)*",
    "ko": "*[English edition](../../lessons/{name}.ipynb)*",
}


class SiteError(ValueError):
    """What stops a site build, said in one line."""


def lesson_notebooks(executed: Path) -> list[Path]:
    """The executed copy of every lesson in `executed`, in course order; a `SiteError` naming what is
    missing, or a copy without outputs, otherwise."""
    paths = [executed / f"{name}.ipynb" for name in LESSONS]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise SiteError(f"no executed lesson {', '.join(missing)} in {executed}: run `make lessons` first")
    import nbformat

    for p in paths:
        nb = nbformat.read(p, as_version=4)
        if not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
            raise SiteError(f"{p} has no outputs: it was not executed; run `make lessons` first")
    return paths


def static_copy(source, dest: Path, *, depth: str = "../", switch: str = "") -> None:
    """`source` (a path or a notebook) for a page without a kernel: progress bars (widgets) dropped, every
    explorer's static figure followed by `NO_KERNEL`, any other widget replaced by it (a widget needs a
    kernel and a script from another host), the widget state dropped, the data's folder left out of the
    source line, Colab's badge served from the site (`depth`: the way from the page up to the site's
    root), and the line `switch` (the link to the other edition) under the title."""
    import nbformat

    note = nbformat.v4.new_output("display_data", data={"text/html": f'<p class="no-kernel">{NO_KERNEL}</p>'})
    nb = nbformat.read(source, as_version=4) if isinstance(source, (str, Path)) else copy.deepcopy(source)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(BADGE, f"{depth}_static/colab-badge.svg")
        if i == 0 and cell.cell_type == "markdown":  # the title goes into every page's navigation, where
            title, _, rest = cell.source.partition("\n")  # pages without math load no MathJax: plain text
            cell.source = title.replace("$", "") + "\n" + (f"\n{switch}\n" if switch else "") + rest
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.outputs:
            data = out.get("data", {})
            if WIDGET in data:
                if not PROGRESS.search(str(data.get("text/plain", ""))):
                    outputs.append(note)
                continue
            if out.output_type == "stream":  # the builder's own folders are nobody's business
                out.text = DATA_PATH.sub(r"\1\2", out.text)
            outputs.append(out)
        if EXPLORER.search(cell.source) and note not in outputs:
            outputs.append(note)
        cell.outputs = outputs
    nbformat.write(nb, dest)


def home_page(root: Path, lang: str = "en") -> str:
    """The home page of edition `lang`: its README (README.md, README.ko.md) from its title up to its
    data section (the two commands, the settings, the lesson table, the four questions), with links
    into the site instead of the repository and a link to the other edition."""
    text = (root / ("README.md" if lang == "en" else f"README.{lang}.md")).read_text(encoding="utf-8")
    end = text.find("\n## Data" if lang == "en" else "\n## 데이터")
    page = text[: end if end > 0 else len(text)]
    page = re.sub(r"\(notebooks/(?:ko/)?(\d\d_[A-Za-z0-9_]+)\.ipynb\)", r"(lessons/\1.ipynb)", page)
    page = re.sub(r"\]\(README(\.ko)?\.md\)", "](ko/index.md)" if lang == "en" else "](../index.md)", page)
    up = "" if lang == "en" else "../"
    page = re.sub(r'src="figures/', f'src="{up}_static/figures/', page).replace(
        BADGE, f"{up}_static/colab-badge.svg"
    )
    repo = repository(root)
    page = re.sub(r"\]\(#([A-Za-z0-9-]+)\)", rf"]({repo}#\1)", page)  # README sections not on the page
    page = re.sub(
        r"\]\((?!https?:|lessons/|_static/|ko/index\.md|\.\./)([^)\s]+)\)", rf"]({repo}/blob/main/\1)", page
    )  # files
    start = START[lang].format(repository=repository(root))
    pages = [f"lessons/{n}" for n in LESSONS] + (["ko/index"] if lang == "en" else [])
    return page + start + "\n```{toctree}\n:hidden:\n:maxdepth: 1\n\n" + "\n".join(pages) + "\n```\n"


def stage(executed: Path, src: Path, root: Path = ROOT) -> Path:
    """Write the site's sources into `src` (emptied first): conf.py, the home page, the static copy of
    every executed lesson, the README's figures and the stylesheet."""
    import nbformat

    from .editions import folder, with_outputs

    notebooks = lesson_notebooks(executed)
    if src.exists():
        shutil.rmtree(src)
    for sub in ("lessons", "ko/lessons", "_static/figures"):
        (src / sub).mkdir(parents=True)
    for p in notebooks:  # a Korean page: its Markdown, and the English run's outputs of identical code
        english = nbformat.read(p, as_version=4)
        korean = with_outputs(nbformat.read(folder("ko", root) / p.name, as_version=4), english)
        static_copy(english, src / "lessons" / p.name, switch=SWITCH["en"].format(name=p.stem))
        static_copy(
            korean, src / "ko" / "lessons" / p.name, depth="../../", switch=SWITCH["ko"].format(name=p.stem)
        )
    for png in sorted((root / "figures").glob("*.png")):
        shutil.copy2(png, src / "_static" / "figures" / png.name)
    (src / "_static" / "site.css").write_text(CSS, encoding="utf-8")
    (src / "_static" / "colab-badge.svg").write_text(BADGE_SVG, encoding="utf-8")
    (src / "_static" / "favicon.svg").write_text(FAVICON, encoding="utf-8")
    (src / "conf.py").write_text(CONF.format(repository=repository(root)), encoding="utf-8")
    (src / "index.md").write_text(home_page(root), encoding="utf-8")
    (src / "ko" / "index.md").write_text(home_page(root, "ko"), encoding="utf-8")
    return src


def build(executed: Path, out: Path, root: Path = ROOT) -> Path:
    """Stage the sources into `out/src` and build the HTML into `out/html` (replaced as a whole only
    when the build succeeds); return the HTML folder."""
    if not (root / "README.md").exists():
        raise SiteError(f"the site is built from a clone's README and figures; {root} is not a clone")
    try:
        from sphinx.cmd.build import build_main
    except ImportError as e:
        raise SiteError("the site needs Sphinx and myst-nb: pip install -e '.[site]' (or make site)") from e
    src = stage(executed, out / "src", root)
    fresh, html = out / "html.new", out / "html"
    if fresh.exists():
        shutil.rmtree(fresh)
    if build_main(["-b", "html", "-q", "-d", str(out / "doctrees"), str(src), str(fresh)]) != 0:
        raise SiteError(f"Sphinx could not build the site from {src}; its messages are above")
    outside = external_requests(fresh)
    if outside:
        raise SiteError(f"the site would load {len(outside)} things from other hosts, first {outside[0]}")
    if html.exists():
        shutil.rmtree(html)
    fresh.rename(html)
    return html


EXTERNAL = re.compile(
    r"""<(?:script|img|iframe|source)\b[^>]*\bsrc=["'](https?:)?//|<link\b[^>]*\bhref=["'](https?:)?//"""
)


def external_requests(html: Path) -> list[str]:
    """Every page of `html` that loads a script, stylesheet, image or frame from another host, as
    "page: the tag's start"; empty when the site is self-contained. Links a reader may follow are fine."""
    found = []
    for page in sorted(html.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        found += [
            f"{page.relative_to(html)}: {text[m.start() : m.end() + 40]}" for m in EXTERNAL.finditer(text)
        ]
    for css in sorted(html.rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        found += [
            f"{css.relative_to(html)}: {m.group(0)}"
            for m in re.finditer(r"url\((['\"]?)https?://[^)]*\)", text)
        ]
    return found
