"""Files never seen half-written: safe extraction, refused archives, limits, full disks, atomic writes."""

import tarfile

import pytest

from helpers import add_member, digest, full_disk, leftovers, make_image_folder, make_tar, needs_dev_full
from resnet_edu.data import DataError, extract_archive, load_cifar10, read_image_folder

pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.mark.parametrize(
    "name,type_,linkname,reason",
    [
        ("../escape.txt", tarfile.REGTYPE, "", "outside"),
        ("/tmp/absolute.txt", tarfile.REGTYPE, "", "outside"),
        ("train/link", tarfile.SYMTYPE, "/etc/passwd", "link"),
        ("train/hard", tarfile.LNKTYPE, "train/a.txt", "link"),
        ("train/dev", tarfile.CHRTYPE, "", "device"),
    ],
)
def test_unsafe_archives_are_refused(tmp_path, name, type_, linkname, reason):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "train/a.txt")
        add_member(tar, name, type_, linkname=linkname)
    with pytest.raises(DataError, match=reason):
        extract_archive(path, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out").exists()


@needs_dev_full
def test_a_full_disk_while_extracting_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "folder", n=1)
    archive = make_tar(tmp_path / "c.tar.gz", root)
    real_open = tarfile.bltn_open
    full = lambda name, mode="r", *a, **k: real_open("/dev/full" if "w" in mode else name, mode, *a, **k)
    with monkeypatch.context() as m:
        m.setattr(tarfile, "bltn_open", full)
        with pytest.raises(DataError) as err:
            load_cifar10(archive)
    message = str(err.value)
    assert message.startswith(f"the disk is full while extracting {str(archive)!r}") and "\n" not in message
    assert "corrupt" not in message
    cache = tmp_path / "cache"
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []
    assert digest(load_cifar10(archive)) == digest(read_image_folder(root / "train"))


def test_an_existing_folder_is_never_deleted(tmp_path):
    archive = make_tar(tmp_path / "c.tar.gz", make_image_folder(tmp_path / "folder", n=1))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    with pytest.raises(DataError, match="exists and is not empty") as err:
        extract_archive(archive, mine)
    assert "\n" not in str(err.value)
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"]
    assert (mine / "thesis.txt").read_text() == "years of work"
    (tmp_path / "a-file").write_text("keep")
    with pytest.raises(DataError, match="exists and is not empty"):
        extract_archive(archive, tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "keep"
    assert leftovers(tmp_path) == []
    (tmp_path / "empty").mkdir()  # an empty folder is fine, and a second call reuses the extraction
    out = extract_archive(archive, tmp_path / "empty")
    assert out == tmp_path / "empty" and sum(1 for p in out.rglob("*.png")) == 20
    assert extract_archive(archive, out) == out
    other = make_tar(tmp_path / "other.tar.gz", make_image_folder(tmp_path / "folder2", n=2))
    with pytest.raises(DataError, match="exists and is not empty"):  # another archive's extraction stays
        extract_archive(other, out)
    assert sum(1 for p in out.rglob("*.png")) == 20


def test_archive_size_and_member_limits(tmp_path):
    archive = make_tar(tmp_path / "c.tar.gz", make_image_folder(tmp_path / "folder", n=1))
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    n, size = len(members), sum(m.size for m in members)
    assert n == 42 and size > 0  # cifar/train, cifar/test, 20 class folders, 20 images
    with pytest.raises(DataError, match=f"has over max_members={n - 1} members") as err:
        extract_archive(archive, tmp_path / "a", max_members=n - 1)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=f"holds over max_bytes={size - 1} bytes"):
        extract_archive(archive, tmp_path / "b", max_bytes=size - 1)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and leftovers(tmp_path) == []
    out = extract_archive(archive, tmp_path / "c", max_members=n, max_bytes=size)  # the limits are inclusive
    assert sum(1 for p in out.rglob("*.png")) == 20


def test_written_files_get_the_mode_of_a_plain_open_not_0600(tmp_path):
    import os

    from resnet_edu.data import write_json

    old = os.umask(0o022)
    try:
        path = write_json({"a": 1}, tmp_path / "r.json")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


@needs_dev_full
def test_a_full_disk_under_torch_save_is_an_oserror_naming_the_file(tmp_path, monkeypatch):
    import errno

    import torch

    from resnet_edu.data import atomic_write

    full_disk(monkeypatch)
    target = tmp_path / "ck.pt"
    with pytest.raises(OSError) as err:  # torch alone says "RuntimeError: [enforce fail ...] unexpected pos"
        atomic_write(target, lambda f: torch.save({"w": torch.zeros(100_000)}, f))
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert leftovers(tmp_path) == [] and not target.exists()
