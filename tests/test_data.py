import io
import os
import shutil
import tarfile

import pytest
import torch
from PIL import Image

from resnet_edu import data as D
from resnet_edu.data import (
    DataError,
    ImageSet,
    balanced_subset,
    extract_archive,
    load_cifar10,
    synthetic_cifar,
)
from resnet_edu.loader import DeviceLoader


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RESNET_EDU_DATA", raising=False)


def save_image(img, path, **kw):
    Image.fromarray(img.permute(1, 2, 0).numpy()).save(path, **kw)


def make_image_folder(root, classes=D.CLASSES, n=2, size=32):
    g = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                img = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
                save_image(img, root / split / c / f"{i:04d}.png")
    return root


def make_tar(path, root):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root / "train", arcname="cifar/train")
        tar.add(root / "test", arcname="cifar/test")
    return path


def test_synthetic_is_balanced_deterministic_uint8():
    a, b = synthetic_cifar(5, seed=1), synthetic_cifar(5, seed=1)
    assert a.images.dtype == torch.uint8 and a.images.shape == (50, 3, 32, 32)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.labels.bincount().tolist() == [5] * 10
    assert not torch.equal(a.images, synthetic_cifar(5, seed=2).images)


def test_synthetic_classes_are_separable_by_their_mean_colour():
    # The structure is learnable: a nearest-class-mean classifier on raw pixels beats chance by far.
    # The test split has the train split's class patterns with fresh noise.
    train, test = synthetic_cifar(20, seed=0), synthetic_cifar(20, seed=0, split="test")
    assert not torch.equal(train.images, test.images)
    x = train.images.float().flatten(1)
    means = torch.stack([x[train.labels == c].mean(0) for c in range(10)])
    accuracy = lambda d: (
        (torch.cdist(d.images.float().flatten(1), means).argmin(1) == d.labels).float().mean()
    )
    assert accuracy(test) > 0.9
    assert accuracy(synthetic_cifar(20, seed=1, split="test")) < 0.5  # another seed: other patterns


def test_balanced_subset_counts_and_seed():
    data = synthetic_cifar(10)
    sub = balanced_subset(data, 3, seed=4)
    assert sub.labels.bincount().tolist() == [3] * 10
    assert torch.equal(sub.images, balanced_subset(data, 3, seed=4).images)
    with pytest.raises(DataError, match="fewer than 11"):
        balanced_subset(data, 11)
    with pytest.raises(DataError, match="positive"):
        balanced_subset(data, 0)


@pytest.mark.parametrize(
    "kwargs,named",
    [
        ({"n_per_class": 99_999_999}, "n_per_class"),  # terabytes: refused before any allocation
        ({"n_per_class": 0}, "n_per_class"),
        ({"n_per_class": -5}, "n_per_class"),
        ({"n_per_class": 2.5}, "n_per_class"),
        ({"n_per_class": 1, "num_classes": 0}, "num_classes"),
        ({"n_per_class": 1, "size": 10**6}, "size"),
        ({"n_per_class": 10_000, "num_classes": 1000}, "num_classes=1000"),  # each fine, together 29 GiB
    ],
)
def test_synthetic_refuses_absurd_sizes_naming_the_argument(kwargs, named):
    with pytest.raises(DataError, match=named) as err:
        synthetic_cifar(**kwargs)
    assert "\n" not in str(err.value)


def test_synthetic_size_limits_are_inclusive():
    data = synthetic_cifar(D.MAX_PER_CLASS, num_classes=1, size=4)
    assert data.images.shape == (10_000, 3, 4, 4) and data.labels.bincount().tolist() == [10_000]


def test_balanced_subset_refuses_absurd_sizes_naming_the_argument():
    data = synthetic_cifar(3)
    for n in (99_999_999, 31, -3, 1.5):
        with pytest.raises(DataError, match="n_per_class must be a positive whole number no larger than 30"):
            balanced_subset(data, n)
    with pytest.raises(DataError, match="n_per_class: class 'pattern0' has 3 images, fewer than 4 asked"):
        balanced_subset(data, 4)
    assert len(balanced_subset(data, 3)) == 30


def test_image_folder_and_its_archive_load_the_same(tmp_path):
    root = make_image_folder(tmp_path / "folder")
    from_dir = load_cifar10(root, split="train")
    assert from_dir.classes == D.CLASSES
    assert from_dir.images.shape == (20, 3, 32, 32) and from_dir.labels.tolist() == [
        i // 2 for i in range(20)
    ]
    archive = make_tar(tmp_path / "c.tar.gz", root)
    from_tar = load_cifar10(archive, split="train")
    assert torch.equal(from_dir.images, from_tar.images)
    assert len(load_cifar10(archive, split="test")) == 20


def test_decoded_set_is_cached(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "folder")
    first = load_cifar10(root)
    monkeypatch.setattr(D, "read_image_folder", lambda *a, **k: pytest.fail("decoded twice"))
    assert torch.equal(load_cifar10(root).images, first.images)


def test_env_variable_is_the_default_source(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "folder")
    monkeypatch.setenv("RESNET_EDU_DATA", str(root))
    assert len(load_cifar10(split="test")) == 20


def test_no_source_says_how_to_get_one():
    with pytest.raises(DataError, match="RESNET_EDU_DATA"):
        load_cifar10()


@pytest.mark.parametrize("kind", ["missing", "not-archive", "corrupt", "truncated"])
def test_bad_paths_and_archives_give_one_line(tmp_path, kind):
    path = tmp_path / "data.tar.gz"
    if kind == "not-archive":
        path = tmp_path / "data.txt"
        path.write_text("hello")
    elif kind == "corrupt":
        path.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        full = make_tar(tmp_path / "full.tar.gz", make_image_folder(tmp_path / "f"))
        path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(DataError) as err:
        load_cifar10(path)
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "cache").glob("data-*"))  # nothing half-extracted left as complete


def add_member(tar, name, type_=tarfile.REGTYPE, data=b"x", linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = type_, len(data) if type_ == tarfile.REGTYPE else 0, linkname
    tar.addfile(info, io.BytesIO(data) if type_ == tarfile.REGTYPE else None)


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


def test_wrong_size_empty_class_missing_class_and_corrupt_image(tmp_path):
    root = make_image_folder(tmp_path / "a", size=28)
    with pytest.raises(DataError, match="28x28, expected 32x32"):
        load_cifar10(root)
    root = make_image_folder(tmp_path / "b")
    (root / "train" / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        load_cifar10(root)
    (tmp_path / "c" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="no class folders"):
        load_cifar10(tmp_path / "c")
    with pytest.raises(DataError, match="no 'test' folder"):
        load_cifar10(tmp_path / "c", split="test")
    root = make_image_folder(tmp_path / "e")
    shutil.rmtree(root / "test" / "truck")
    with pytest.raises(DataError, match=r"missing \['truck'\]"):
        load_cifar10(root, split="test")
    root = make_image_folder(tmp_path / "d")
    (root / "train" / "cat" / "0000.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="corrupt"):
        load_cifar10(root)


def test_empty_variable_means_no_source(monkeypatch):
    monkeypatch.setenv("RESNET_EDU_DATA", "")
    with pytest.raises(DataError, match="no CIFAR-10 source"):
        load_cifar10()


def test_empty_set_is_refused():
    with pytest.raises(DataError, match="empty"):
        DeviceLoader(ImageSet(torch.zeros(0, 3, 32, 32, dtype=torch.uint8), torch.zeros(0, dtype=torch.long)))


def test_labels_out_of_range_are_refused():
    bad = ImageSet(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), torch.tensor([0, 10]))
    with pytest.raises(DataError, match="0..9, found 0..10"):
        DeviceLoader(bad)


def test_jpeg_folder_decodes_close_to_the_source(tmp_path):
    img = torch.full((3, 32, 32), 128, dtype=torch.uint8)
    (tmp_path / "train" / "cat").mkdir(parents=True)
    save_image(img, tmp_path / "train" / "cat" / "1.jpg", quality=95)
    loaded = D.read_image_folder(tmp_path / "train")
    assert (loaded.images.int() - 128).abs().max() <= 2


def test_the_shared_offline_copy_when_present(real_data_path):
    test = load_cifar10(real_data_path, split="test")
    assert test.images.shape == (10_000, 3, 32, 32) and test.images.dtype == torch.uint8
    assert test.labels.bincount().tolist() == [1000] * 10
    assert test.classes == D.CLASSES
