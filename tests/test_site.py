"""The course's website (course.site): its sources from the executed lessons, nothing loaded from
another host, and, where Chromium and Playwright are installed, every page checked in a real browser."""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import nbformat
import pytest

from helpers import write_notebook
from resnet_edu import course
from resnet_edu.course import site

ROOT = course.ROOT
SOURCE_LINE = "setting: quick\nCIFAR-10 from /home/someone/data/cifar10-jpeg.tar.gz\n"


def test_a_page_without_a_kernel_gets_notes_not_widgets_and_no_machine_paths(tmp_path):
    new = nbformat.v4.new_output
    widget = new("display_data", data={site.WIDGET: {"model_id": "x"}, "text/plain": "VBox()"})
    bar = new(
        "display_data", data={site.WIDGET: {"model_id": "y"}, "text/plain": "  0%|     | 0/48 [00:00<?]"}
    )
    figure = new(
        "execute_result", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}, execution_count=2
    )
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}})
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# Lesson · $H(x)$\n\n[![Open in Colab]({site.BADGE})](https://colab)"
        ),
        nbformat.v4.new_code_cell("explore()", outputs=[widget, bar], execution_count=1),
        nbformat.v4.new_code_cell(
            "course.widgets.gradient_explorer(depths=(8,))", outputs=[figure], execution_count=2
        ),
        nbformat.v4.new_code_cell(
            "S = start()", outputs=[new("stream", text=SOURCE_LINE)], execution_count=3
        ),
    ]
    nbformat.write(nb, tmp_path / "in.ipynb")
    site.static_copy(tmp_path / "in.ipynb", tmp_path / "out.ipynb")
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    title = out.cells[0].source
    assert title.startswith("# Lesson · H(x)\n") and "](../_static/colab-badge.svg)" in title
    (note,) = out.cells[1].outputs  # the widget became the note; the progress bar is gone
    assert "needs a running kernel" in note["data"]["text/html"]
    shown, after = out.cells[2].outputs  # an explorer's static figure, then the note
    assert (
        shown["data"]["image/png"] == "iVBORw0KGgo="
        and "needs a running kernel" in after["data"]["text/html"]
    )
    assert out.cells[3].outputs[0]["text"] == "setting: quick\nCIFAR-10 from cifar10-jpeg.tar.gz\n"
    assert "widgets" not in out.metadata


def test_the_home_page_links_into_the_site_and_lists_every_lesson():
    page = site.home_page(ROOT)
    assert "(notebooks/" not in page and 'src="figures/' not in page
    for name in course.LESSONS:
        assert f"(lessons/{name}.ipynb)" in page and f"lessons/{name}\n" in page
    assert "The four questions" in page and "make lessons" in page


def test_the_korean_home_page_links_its_own_lessons_and_the_english_edition():
    page = site.home_page(ROOT, "ko")
    assert "(notebooks/" not in page and "](../index.md)" in page and "ko/index" not in page
    for name in course.LESSONS:
        assert f"(lessons/{name}.ipynb)" in page and f"lessons/{name}\n" in page
    assert "](ko/index.md)" in site.home_page(ROOT) and "ko/index\n" in site.home_page(ROOT)


def test_a_missing_or_unexecuted_lesson_is_one_clear_error(tmp_path):
    with pytest.raises(site.SiteError, match="make lessons"):
        site.lesson_notebooks(tmp_path)
    for name in course.LESSONS:
        write_notebook(tmp_path / f"{name}.ipynb", "print(1)")
    with pytest.raises(site.SiteError, match="no outputs"):
        site.lesson_notebooks(tmp_path)


def test_external_requests_finds_what_a_page_loads_and_ignores_links(tmp_path):
    (tmp_path / "a.html").write_text(
        '<a href="https://example.org">read on</a><script src="_static/x.js"></script>'
        '<img src="_static/f.png"><link rel="stylesheet" href="style.css">'
    )
    assert site.external_requests(tmp_path) == []
    (tmp_path / "b.html").write_text('<script src="https://cdn.example/require.js"></script>')
    (tmp_path / "c.css").write_text("@font-face { src: url('https://fonts.example/x.woff2'); }")
    found = site.external_requests(tmp_path)
    assert len(found) == 2 and found[0].startswith("b.html") and "fonts.example" in found[1]


@pytest.fixture(scope="module")
def built(executed_lessons, tmp_path_factory):
    """The site built from this run's executed lessons (test_lessons leaves them; else run them here)."""
    pytest.importorskip("sphinx", reason="the site needs the site extra (pip install -e '.[site]')")
    missing = [n for n in course.LESSONS if not (executed_lessons / f"{n}.ipynb").exists()]
    if missing:
        course.run_lessons(missing, out=executed_lessons, setting="quick", progress=False)
    return site.build(executed_lessons, tmp_path_factory.mktemp("site"), ROOT)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_built_site_holds_every_lesson_with_its_figures_and_verdicts(built):
    assert site.external_requests(built) == []
    assert (built / "_static" / "mathjax" / "tex-chtml.js").exists() and (built / "searchindex.js").exists()
    for name in course.LESSONS:
        page = (built / "lessons" / f"{name}.html").read_text(encoding="utf-8")
        assert page.count("<img") >= 2 and "conclusion:" in page, name
        assert "<details>" in page, name  # exercise solutions stay collapsed
        assert f'href="../ko/lessons/{name}.html"' in page, name  # the switch to the Korean edition
        korean = (built / "ko" / "lessons" / f"{name}.html").read_text(encoding="utf-8")
        assert f'href="../../lessons/{name}.html"' in korean and "conclusion:" in korean, name
        assert korean.count("<img") == page.count("<img") and "레슨" in korean, name


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_page_in_a_real_browser(built, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium); browser check skipped")
    handler = functools.partial(QuietHandler, directory=str(built))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            problems = check_pages(browser, base, built, tmp_path)
            browser.close()
    finally:
        server.shutdown()
    assert not problems, "\n".join(problems)


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def check_pages(browser, base: str, built: Path, shots: Path) -> list[str]:
    """Open every page at desktop width; fail on console errors, failed or outside requests, images
    that did not load, TeX that MathJax left raw, and links to pages that do not exist. Then search for
    a word of lesson 05, and look at two pages on a 375-pixel phone screen."""
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(base)
            else (problems.append(f"request outside the site: {route.request.url}"), route.abort())[1]
        ),
    )
    page.on(
        "console", lambda m: m.type == "error" and problems.append(f"console error on {page.url}: {m.text}")
    )
    page.on("requestfailed", lambda r: problems.append(f"failed request {r.url}"))
    pages = sorted(
        p.relative_to(built).as_posix() for p in built.rglob("*.html") if p.name != "genindex.html"
    )
    for rel in pages:
        page.goto(f"{base}/{rel}", wait_until="load")
        if page.locator(".math").count():
            page.wait_for_function(
                "window.MathJax && MathJax.startup && MathJax.startup.document", timeout=30000
            )
            page.evaluate("MathJax.startup.promise")
            raw = page.evaluate(
                "[...document.querySelectorAll('.math')]"
                ".filter(e => !e.querySelector('mjx-container')).length"
            )
            if raw:
                problems.append(f"{rel}: {raw} equations left as raw TeX")
        broken = page.evaluate(
            "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )
        problems += [f"{rel}: image did not load: {src[:80]}" for src in broken]
        for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)"):
            if href.startswith(base) and ".html" in href:
                target = built / href[len(base) + 1 :].split("#")[0].split("?")[0]
                if not target.exists():
                    problems.append(f"{rel}: broken link to {href}")
    page.goto(f"{base}/search.html?q=filter-normalised", wait_until="load")
    page.wait_for_selector("#search-results ul li, #search-results p", timeout=30000)
    hits = page.evaluate("[...document.querySelectorAll('#search-results a')].map(a => a.href)")
    if not any("05_loss_landscapes" in h for h in hits):
        problems.append(f"searching 'filter-normalised' does not find lesson 05: {hits[:5]}")
    for width, height in ((1280, 900), (375, 800)):
        page.set_viewport_size({"width": width, "height": height})
        for rel in ("index.html", f"lessons/{course.LESSONS[-1]}.html"):
            page.goto(f"{base}/{rel}", wait_until="load")
            page.screenshot(path=str(shots / f"{rel.replace('/', '_')}_{width}.png"))
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width + 1:
                problems.append(f"{rel} at {width} px: the page is {wide} px wide (text or figures overflow)")
    return problems
