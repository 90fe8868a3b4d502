"""The repository's address is written once (pyproject.toml); every badge and install cell agrees."""

import shutil

import pytest

from resnet_edu.course import LESSONS, links, settings

HERE = settings.ROOT


def test_every_badge_and_install_cell_names_the_declared_repository():
    declared = links.URL.match(links.repository(HERE))
    owner_name = "/".join(declared.groups())
    found = links.links(HERE)
    assert found["pyproject.toml"] == [owner_name]
    for readme in ("README.md", "README.ko.md"):
        assert found[readme] == [owner_name] * len(LESSONS), readme  # one Colab badge per lesson
    for lesson in LESSONS:
        for nb in (f"notebooks/{lesson}.ipynb", f"notebooks/ko/{lesson}.ipynb"):
            assert found[nb] == [owner_name] * 2, nb  # its badge and install cell


def test_each_edition_s_badges_open_its_own_lessons():
    for readme, folder in (("README.md", "notebooks/"), ("README.ko.md", "notebooks/ko/")):
        text = (HERE / readme).read_text()
        for lesson in LESSONS:
            assert f"blob/main/{folder}{lesson}.ipynb" in text, (readme, lesson)
    assert "](README.ko.md)" in (HERE / "README.md").read_text()  # the English README links the Korean one


def fork(tmp_path):
    for name in ("pyproject.toml", "README.md", "README.ko.md"):
        shutil.copy(HERE / name, tmp_path / name)
    shutil.copytree(HERE / "notebooks", tmp_path / "notebooks")
    return tmp_path


def test_a_fork_rewrites_every_copy_at_once_and_back(tmp_path):
    root = fork(tmp_path)
    before = {p: p.read_bytes() for p in links.copies(root)}
    changed = links.set_repository(root, "https://github.com/someone/their-fork.git")
    assert sorted(changed) == sorted(before)
    assert links.repository(root) == "https://github.com/someone/their-fork"
    assert all(set(found) == {"someone/their-fork"} for found in links.links(root).values())
    assert (
        "colab.research.google.com/github/someone/their-fork/blob/main/notebooks/01_"
        in (root / "README.md").read_text()
    )
    assert links.site_url(root) == "https://someone.github.io/their-fork/"
    assert set(links.SITE.findall((root / "README.md").read_text())) == {("someone", "their-fork")}
    import nbformat

    nb = nbformat.read(root / "notebooks" / f"{LESSONS[0]}.ipynb", as_version=4)  # still a valid notebook
    assert "%pip install -q git+https://github.com/someone/their-fork {keep}" in nb.cells[1].source
    links.set_repository(root, "https://github.com/resnet-edu/resnet-edu")
    assert {p: p.read_bytes() for p in links.copies(root)} == before  # only the address had changed


def test_the_readme_names_the_website_the_repository_implies():
    readme = (HERE / "README.md").read_text()
    assert links.site_url(HERE) == "https://resnet-edu.github.io/resnet-edu/"
    assert (
        set(links.SITE.findall(readme)) == {("resnet-edu", "resnet-edu")} and links.site_url(HERE) in readme
    )


def test_disagreeing_copies_are_found_and_a_bad_address_changes_nothing(tmp_path):
    root = fork(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("github/resnet-edu/resnet-edu/blob", "github/x/y/blob", 1))
    assert set(links.links(root)["README.md"]) == {"x/y", "resnet-edu/resnet-edu"}
    before = {p: p.read_bytes() for p in links.copies(root)}
    for bad in (
        "github.com/a/b",
        "https://gitlab.com/a/b",
        "https://github.com/a",
        "https://github.com/a/b c",
    ):
        with pytest.raises(ValueError, match="not a GitHub repository address"):
            links.set_repository(root, bad)
    assert {p: p.read_bytes() for p in links.copies(root)} == before
