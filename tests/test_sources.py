import os
import shutil

import pytest
import torch

from helpers import make_image_folder, make_tar
from resnet_edu import data as D
from resnet_edu.data import (
    DataError,
    load_cifar10,
)

pytestmark = pytest.mark.usefixtures("private_cache")


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


def test_the_shared_offline_copy_when_present(real_data_path):
    test = load_cifar10(real_data_path, split="test")
    assert test.images.shape == (10_000, 3, 32, 32) and test.images.dtype == torch.uint8
    assert test.labels.bincount().tolist() == [1000] * 10
    assert test.classes == D.CLASSES
