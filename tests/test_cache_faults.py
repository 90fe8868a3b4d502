"""Fault injection for the data cache: concurrent cold loads, corrupt cache files, full disks, limits.

Nothing lost (a folder the library did not create is never deleted, a finished cache is never
replaced) and nothing half-written (no partial cache file or extracted tree is ever used or left).
"""

import os
import pickle
import random
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch

from helpers import digest, leftovers, make_image_folder, make_tar, needs_dev_full, save_image
from resnet_edu import data as D
from resnet_edu.data import DataError, extract_archive, load_cifar10, read_image_folder
from resnet_edu.data import files as A

ROOT = Path(D.__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("private_cache")


# ---- several processes on one cold cache -----------------------------------------------------

WORKER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from resnet_edu.data import load_cifar10

    work, me, trials, source = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    unlink = os.unlink
    def slow_unlink(*args, **kwargs):  # a slow disk: deleting a tree of 60,000 files takes seconds
        time.sleep(0.002)
        return unlink(*args, **kwargs)
    os.unlink = slow_unlink
    for t in range(trials):
        os.environ["RESNET_EDU_CACHE"] = str(work / f"cache{t}")  # a cold cache for every trial
        (work / f"ready{t}-{me}").touch()
        while not (work / f"go{t}").exists():  # the barrier: all workers start together
            time.sleep(0.001)
        try:
            d = load_cifar10(source, split="train")
            out = repr((tuple(d.images.shape), d.images.sum().item(), d.labels.tolist(), d.classes))
        except Exception as e:
            out = f"FAIL {type(e).__name__}: {e}"
        (work / f"result{t}-{me}").write_text(out)
""")


def test_concurrent_cold_loads_all_succeed_and_leave_one_whole_cache(tmp_path):
    """Three processes load one archive into an empty cache at the same moment, five times over."""
    workers, trials = 3, 5
    source = make_image_folder(tmp_path / "folder", n=6)
    archive = make_tar(tmp_path / "c.tar.gz", source)
    expected = repr(digest(read_image_folder(source / "train")))
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("RESNET_EDU_DATA", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(work), str(i), str(trials), str(archive)],
            env=env,
            cwd=tmp_path,  # not the repository: PYTHONPATH alone picks the library
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    try:
        for t in range(trials):
            deadline = time.monotonic() + 120
            while not all((work / f"ready{t}-{i}").exists() for i in range(workers)):
                assert time.monotonic() < deadline, "workers did not reach the barrier"
                assert all(p.poll() is None for p in procs), "a worker died"
                time.sleep(0.01)
            (work / f"go{t}").touch()
        errors = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * workers, errors
    # nor a warning: no cache file was ever seen half-written (other libraries' remarks do not count)
    assert not any("unreadable" in e or "Traceback" in e for e in errors), errors
    n_files = sum(1 for p in source.rglob("*") if p.is_file())
    for t in range(trials):
        assert [(work / f"result{t}-{i}").read_text() for i in range(workers)] == [expected] * workers
        cache = work / f"cache{t}"
        assert leftovers(cache) == []
        [tree] = [p for p in cache.iterdir() if p.is_dir()]  # one extraction, whole, marked complete
        assert sum(1 for p in tree.rglob("*") if p.is_file()) == n_files + 1  # + the .complete marker
        assert (tree / ".complete").read_text().split("\n")[0] in tree.name  # key, then files
        assert len(list(cache.glob("imageset-train-*.pt"))) == 1


@pytest.mark.skipif(getattr(A, "fcntl", None) is None, reason="no POSIX file locks here")
def test_a_second_loader_waits_for_the_lock(tmp_path):
    import fcntl

    archive = make_tar(tmp_path / "c.tar.gz", make_image_folder(tmp_path / "folder", n=1))
    dest, result = tmp_path / "out", []
    with open(tmp_path / ".out.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is extracting
        waiter = threading.Thread(target=lambda: result.append(extract_archive(archive, dest)))
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive() and not dest.exists()
    waiter.join(timeout=60)
    assert result == [dest] and (dest / ".complete").exists()


def test_without_locks_the_loser_keeps_the_winners_copy(tmp_path, monkeypatch):
    """Where there is no fcntl, a process that finishes second discards its own copy, never the first."""
    archive = make_tar(tmp_path / "c.tar.gz", make_image_folder(tmp_path / "folder", n=1))
    monkeypatch.setattr(A, "fcntl", None)
    check, started, winner = A._check_member, [], []

    def race(member, target):  # while this process extracts, another one finishes first
        if not started:
            started.append(True)
            winner.append(extract_archive(archive))
            winner.append((winner[0] / ".complete").stat().st_ino)
        check(member, target)

    monkeypatch.setattr(A, "_check_member", race)
    dest = extract_archive(archive)
    assert dest == winner[0] and (dest / ".complete").stat().st_ino == winner[1]  # the same folder
    assert sum(1 for p in dest.rglob("*") if p.is_file()) == 21
    assert leftovers(dest.parent) == []
    monkeypatch.setattr(A, "_check_member", check)
    assert digest(load_cifar10(archive)) == digest(read_image_folder(tmp_path / "folder" / "train"))


# ---- a cache that heals itself ---------------------------------------------------------------


def corrupt(kind: str, file: Path, good: dict) -> None:
    if kind == "truncated":
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    elif kind == "empty":
        file.write_bytes(b"")
    elif kind == "random-bytes":
        file.write_bytes(random.Random(0).randbytes(4096))
    elif kind == "plain-pickle":
        file.write_bytes(pickle.dumps({"images": 1}))
    elif kind == "not-a-dict":
        torch.save([1, 2, 3], file)
    elif kind == "wrong-keys":
        torch.save({"images": good["images"], "labels": good["labels"]}, file)
    elif kind == "float-images":
        torch.save({**good, "images": good["images"].float()}, file)
    elif kind == "poisoned-fewer":  # well-formed, but an image short of the folder
        torch.save({**good, "images": good["images"][1:], "labels": good["labels"][1:]}, file)
    elif kind == "poisoned-labels":  # well-formed, but every image in class 0
        torch.save({**good, "labels": torch.zeros_like(good["labels"])}, file)
    elif kind == "poisoned-size":  # well-formed, but 16x16 images
        torch.save({**good, "images": good["images"][..., :16, :16].contiguous()}, file)


@pytest.mark.parametrize(
    "kind",
    ["truncated", "empty", "random-bytes", "plain-pickle", "not-a-dict", "wrong-keys", "float-images"]
    + ["poisoned-fewer", "poisoned-labels", "poisoned-size"],
)
def test_an_unreadable_cache_file_is_rebuilt_with_one_warning(tmp_path, monkeypatch, kind):
    root = make_image_folder(tmp_path / "folder", n=1)
    first = load_cifar10(root)
    [file] = (tmp_path / "cache").glob("imageset-train-*.pt")
    corrupt(kind, file, torch.load(file, weights_only=True))
    with pytest.warns(UserWarning) as caught:
        again = load_cifar10(root)
    [message] = [str(w.message) for w in caught]
    assert message.startswith(f"cache file {str(file)!r} is unreadable (")
    assert message.endswith(", rebuilding it") and "\n" not in message
    assert digest(again) == digest(first)
    monkeypatch.setattr(D, "read_image_folder", lambda *a, **k: pytest.fail("decoded a third time"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert digest(load_cifar10(root)) == digest(first)  # the rebuilt file is whole
    assert leftovers(tmp_path / "cache") == []


def test_a_changed_or_added_image_invalidates_the_cache(tmp_path):
    root = make_image_folder(tmp_path / "folder", n=2)
    first = load_cifar10(root)
    image = root / "train" / "cat" / "0001.png"  # cat is class 3: the 8th image
    before = image.stat()
    save_image(torch.full((3, 32, 32), 7, dtype=torch.uint8), image)
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))  # coarse clocks: a later time
    second = load_cifar10(root)
    assert (second.images[7] == 7).all() and not (first.images[7] == 7).all()
    assert torch.equal(second.images[:7], first.images[:7])
    assert torch.equal(second.images[8:], first.images[8:])
    save_image(torch.full((3, 32, 32), 9, dtype=torch.uint8), root / "train" / "cat" / "0002.png")
    third = load_cifar10(root)
    assert len(third) == 21 and third.labels.bincount()[3] == 3 and (third.images[8] == 9).all()


def test_hidden_folders_and_files_are_not_classes_or_images(tmp_path):
    root = make_image_folder(tmp_path / "folder", n=1)
    expected = digest(read_image_folder(root / "train"))
    img = torch.zeros(3, 32, 32, dtype=torch.uint8)
    (root / "train" / ".ipynb_checkpoints").mkdir()
    save_image(img, root / "train" / ".ipynb_checkpoints" / "0000.png")
    save_image(img, root / "train" / "cat" / ".0000-copy.png")
    (root / "train" / "cat" / "._0000.png").write_bytes(b"\x00\x05\x16\x07 macOS metadata, not an image")
    assert digest(load_cifar10(root)) == expected
    assert digest(load_cifar10(make_tar(tmp_path / "c.tar.gz", root))) == expected
    wrapped = tmp_path / "wrapped"  # the split folder is looked for one level down, but not in a hidden one
    make_image_folder(wrapped / "data", n=1)
    (wrapped / ".Trash-1000" / "train").mkdir(parents=True)
    assert digest(load_cifar10(wrapped)) == expected


# ---- full disks, interruptions, and folders that are not ours -------------------------------


@needs_dev_full
def test_a_full_disk_while_writing_the_cache_says_so(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "folder", n=1)
    real = tempfile.NamedTemporaryFile

    def full(*args, **kwargs):  # the real temporary file, whose writes go to a device that is always full
        f = real(*args, **kwargs)
        os.dup2(os.open("/dev/full", os.O_WRONLY), f.fileno())
        return f

    with monkeypatch.context() as m:
        m.setattr(tempfile, "NamedTemporaryFile", full)
        with pytest.raises(DataError) as err:
            load_cifar10(root)
    message = str(err.value)
    assert message.startswith("the disk is full while writing the cache file") and "\n" not in message
    assert "corrupt" not in message
    assert list((tmp_path / "cache").glob("imageset-*.pt")) == [] and leftovers(tmp_path / "cache") == []
    assert digest(load_cifar10(root)) == digest(read_image_folder(root / "train"))  # space freed


@pytest.mark.parametrize("stage", ["extracting", "writing the cache"])
def test_an_interruption_leaves_no_temporary_files(tmp_path, monkeypatch, stage):
    root = make_image_folder(tmp_path / "folder", n=1)
    archive = make_tar(tmp_path / "c.tar.gz", root)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        if stage == "extracting":
            m.setattr(tarfile.TarFile, "makefile", interrupt)
        else:
            m.setattr(torch, "save", interrupt)
        with pytest.raises(KeyboardInterrupt):
            load_cifar10(archive)
    cache = tmp_path / "cache"
    assert leftovers(cache) == [] and list(cache.glob("imageset-*.pt")) == []
    assert len([p for p in cache.iterdir() if p.is_dir()]) == (stage != "extracting")
    assert digest(load_cifar10(archive)) == digest(read_image_folder(root / "train"))


@pytest.mark.parametrize("source", ["folder", "archive"])
@pytest.mark.parametrize("under", ["file", "below-file"])
def test_a_cache_folder_that_cannot_be_created_gives_one_line(tmp_path, monkeypatch, source, under):
    root = make_image_folder(tmp_path / "folder", n=1)
    path = root if source == "folder" else make_tar(tmp_path / "c.tar.gz", root)
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file")
    monkeypatch.setenv("RESNET_EDU_CACHE", str(blocker if under == "file" else blocker / "cache"))
    with pytest.raises(DataError, match="point RESNET_EDU_CACHE at a folder you can write") as err:
        load_cifar10(path)
    assert "\n" not in str(err.value) and str(blocker) in str(err.value)
    assert blocker.read_text() == "a regular file"


def test_an_image_that_declares_a_huge_size_is_refused_in_one_line(tmp_path):
    from PIL import Image

    root = make_image_folder(tmp_path / "folder", n=1)
    bomb = root / "train" / "cat" / "0000.png"
    Image.new("1", (14000, 14000)).save(bomb)  # 196 Mpixels: over twice PIL's limit, a few kB on disk
    with pytest.raises(DataError, match="is far too large") as err:
        load_cifar10(root)
    assert str(bomb) in str(err.value) and "\n" not in str(err.value)


def test_leftovers_of_killed_writers_are_swept_but_a_live_writers_are_not(tmp_path):
    import fcntl

    root = make_image_folder(tmp_path / "folder", n=1)
    archive = make_tar(tmp_path / "c.tar.gz", root)
    cache = tmp_path / "cache"
    cache.mkdir()
    dead_tmp, live_tmp = cache / ".imageset-x.ptab12cd34.tmp", cache / ".imageset-y.ptzz12cd34.tmp"
    dead_dir, live_dir = cache / ".c-1.extract-abc", cache / ".c-2.extract-abc"
    for p in (dead_tmp, live_tmp):
        p.write_bytes(b"half")
    for p in (dead_dir, live_dir):
        (p / "train").mkdir(parents=True)
    young = cache / ".imageset-z.ptyy12cd34.tmp"
    young.write_bytes(b"just created")
    for p in (dead_tmp, live_tmp, dead_dir, live_dir):
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    with open(live_tmp, "rb") as a, open(cache / ".c-2.lock", "a") as b:
        fcntl.flock(a, fcntl.LOCK_EX)  # what a live atomic_write and a live extraction hold
        fcntl.flock(b, fcntl.LOCK_EX)
        assert digest(load_cifar10(archive)) == digest(read_image_folder(root / "train"))
        assert not dead_tmp.exists() and not dead_dir.exists()
        assert live_tmp.exists() and live_dir.exists() and young.exists()


def test_a_broken_extraction_is_extracted_again(tmp_path):
    root = make_image_folder(tmp_path / "folder", n=1)
    archive = make_tar(tmp_path / "c.tar.gz", root)
    first = load_cifar10(archive)
    [tree] = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    next(tree.rglob("*.png")).unlink()  # someone cleaned up part of the cache
    with pytest.warns(UserWarning, match="is incomplete; extracting it again"):
        assert digest(load_cifar10(archive, split="test")) == digest(read_image_folder(root / "test"))
    assert digest(load_cifar10(archive)) == digest(first)
