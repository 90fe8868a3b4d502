"""The repository's address, written in one place: `[project.urls] Repository` in pyproject.toml.

The README's Colab badges, and every lesson's badge and install cell, are copies of it (a notebook
must carry the address before the library is installed). `set_repository` rewrites every copy at once
for a fork; `links` lists them so a test can check that they all agree.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..data.files import atomic_write

URL = re.compile(r"^https://github\.com/([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")
# the copies: Colab's GitHub loader (badges), pip's git URL (install cells), pyproject's own line
COPY = re.compile(
    r"(colab\.research\.google\.com/github/|git\+https://github\.com/|^Repository = \"https://github\.com/)"
    r"([A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?=[/\"'\s)\\]|$)",
    re.M,
)
# the course's website on GitHub Pages, derived from the repository: https://OWNER.github.io/NAME/
SITE = re.compile(r"https://([A-Za-z0-9-]+)\.github\.io/([A-Za-z0-9._-]+?)/?(?=[\s)\"'<>.,;:]|$)")
SOURCE = re.compile(r'^Repository = "([^"]*)"', re.M)


def repository(root: str | Path) -> str:
    """The repository's address as pyproject.toml in `root` declares it."""
    found = SOURCE.search((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))
    if not found:
        raise ValueError(f"{Path(root) / 'pyproject.toml'} declares no [project.urls] Repository")
    return found.group(1)


def site_url(root: str | Path) -> str:
    """The course's website as GitHub Pages serves it for the declared repository."""
    match = URL.match(repository(root))
    if not match:
        raise ValueError(f"{repository(root)!r} is not a GitHub repository address")
    return f"https://{match.group(1).lower()}.github.io/{match.group(2)}/"


def copies(root: str | Path) -> list[Path]:
    """The files that carry the address: pyproject.toml, both READMEs and every lesson (both editions)."""
    root = Path(root)
    readmes = [p for p in (root / "README.md", root / "README.ko.md") if p.exists()]
    return [root / "pyproject.toml", *readmes, *sorted(root.glob("notebooks/**/*.ipynb"))]


def links(root: str | Path) -> dict[str, list[str]]:
    """{file relative to `root`: the OWNER/NAME of every copy of the address in it, in order}."""
    root = Path(root)
    return {
        str(p.relative_to(root)): [m.group(2) for m in COPY.finditer(p.read_text("utf-8"))]
        for p in copies(root)
    }


def set_repository(root: str | Path, url: str) -> list[Path]:
    """Point every copy of the address in `root` at `url` (https://github.com/OWNER/NAME): pyproject,
    README badges, lesson badges, install cells and the website's address. Returns the files changed;
    a malformed address changes nothing."""
    match = URL.match(url.strip())
    if not match:
        raise ValueError(f"{url!r} is not a GitHub repository address like https://github.com/OWNER/NAME")
    new = f"{match.group(1)}/{match.group(2)}"
    site = f"https://{match.group(1).lower()}.github.io/{match.group(2)}/"
    changed = []
    for p in copies(root):
        text = p.read_text(encoding="utf-8")
        rewritten = SITE.sub(site, COPY.sub(lambda m: m.group(1) + new, text))
        if rewritten != text:
            atomic_write(p, lambda f, t=rewritten: f.write(t.encode("utf-8")))
            changed.append(p)
    return changed
