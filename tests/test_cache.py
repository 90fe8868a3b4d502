"""The decoded-set cache: one decode, then one file read; JPEGs decode close to their source."""

import pytest
import torch

from helpers import make_image_folder, save_image
from resnet_edu.data import cache, load_cifar10

pytestmark = pytest.mark.usefixtures("private_cache")


def test_decoded_set_is_cached(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "folder")
    first = load_cifar10(root)
    monkeypatch.setattr(cache, "read_image_folder", lambda *a, **k: pytest.fail("decoded twice"))
    assert torch.equal(load_cifar10(root).images, first.images)


def test_jpeg_folder_decodes_close_to_the_source(tmp_path):
    img = torch.full((3, 32, 32), 128, dtype=torch.uint8)
    (tmp_path / "train" / "cat").mkdir(parents=True)
    save_image(img, tmp_path / "train" / "cat" / "1.jpg", quality=95)
    loaded = cache.read_image_folder(tmp_path / "train")
    assert (loaded.images.int() - 128).abs().max() <= 2
