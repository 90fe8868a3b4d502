"""CIFAR-10 over the network, tested offline on copies made locally in each source's real format."""

import os
import pickle
import time

import pytest
import torch

from helpers import make_hub_folder, make_torchvision_folder
from resnet_edu.data import CLASSES, DataError, ImageSet, load_cifar10
from resnet_edu.data import downloads as dl

pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_the_hub_copy_is_decoded_to_uint8_and_cached(tmp_path, offline_hub):
    folder, arrays = make_hub_folder(tmp_path / "hub")
    data = dl.from_hub("train", dataset=str(folder), complete=False, progress=False)
    assert (
        data.classes == CLASSES and data.images.dtype == torch.uint8 and data.images.shape == (20, 3, 32, 32)
    )
    assert torch.equal(data.images, torch.from_numpy(arrays["train"]).permute(0, 3, 1, 2))  # PNG: lossless
    assert data.labels.tolist() == [i % 10 for i in range(20)]
    (folder / "plain_text" / "train-00000-of-00001.parquet").unlink()  # the next call reads our cache
    again = dl.from_hub("train", dataset=str(folder), complete=False, progress=False)
    assert torch.equal(again.images, data.images)


def test_a_hub_copy_with_other_classes_or_missing_images_is_refused(tmp_path, offline_hub):
    folder, _ = make_hub_folder(tmp_path / "hub", classes=[f"c{i}" for i in range(10)])
    with pytest.raises(DataError, match="not CIFAR-10's"):
        dl.from_hub("test", dataset=str(folder), complete=False, progress=False)
    folder, _ = make_hub_folder(tmp_path / "small")
    with pytest.raises(DataError, match="10 test images .* CIFAR-10 has 10000"):
        dl.from_hub("test", dataset=str(folder), progress=False)  # complete: every image is required


def test_a_hub_that_cannot_be_reached_is_one_data_error(tmp_path, offline_hub):
    with pytest.raises(DataError, match="the Hugging Face Hub gave no"):
        dl.from_hub("test", dataset=str(tmp_path / "nothing-here"), progress=False)


def test_torchvisions_on_disk_format_is_read_without_torchvision(tmp_path):
    root = make_torchvision_folder(tmp_path / "tv", n=2)
    train, test = load_cifar10(root, split="train"), load_cifar10(root, split="test")
    assert (len(train), len(test), train.classes) == (100, 20, CLASSES)  # 5 batches of 20, 1 of 20
    with open(root / "cifar-10-batches-py" / "test_batch", "rb") as f:
        batch = pickle.load(f)
    assert torch.equal(test.images[3], torch.from_numpy(batch["data"][3]).view(3, 32, 32))


def test_a_batch_file_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    root = make_torchvision_folder(tmp_path / "tv", n=1)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(root / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(DataError, match="not a CIFAR-10 batch file"):
        load_cifar10(root, split="test")
    assert not marker.exists()


def test_verify_checks_classes_shapes_labels_and_completeness():
    ok = ImageSet(torch.zeros(20, 3, 32, 32, dtype=torch.uint8), torch.arange(20) % 10)
    dl.verify(ok, "test", complete=False)
    with pytest.raises(DataError, match="CIFAR-10 has 10000"):
        dl.verify(ok, "test")
    with pytest.raises(DataError, match="not 3x32x32 uint8"):
        dl.verify(
            ImageSet(torch.zeros(2, 3, 16, 16, dtype=torch.uint8), torch.tensor([0, 1])),
            "test",
            complete=False,
        )
    with pytest.raises(DataError, match="outside 0..9"):
        dl.verify(ImageSet(ok.images[:2], torch.tensor([0, 12])), "test", complete=False)


def test_a_source_past_its_deadline_gives_up_with_one_line():
    start = time.perf_counter()
    with pytest.raises(DataError, match="slow source did not finish within 0.2 s"):
        dl.within(0.2, lambda: time.sleep(5), "slow source")
    assert time.perf_counter() - start < 2
    assert dl.within(1, lambda: 42, "quick") == 42
    with pytest.raises(ZeroDivisionError):
        dl.within(1, lambda: 1 / 0, "broken")


def test_download_reads_a_finished_cache_before_any_network(monkeypatch):
    whole = ImageSet(torch.zeros(10000, 3, 32, 32, dtype=torch.uint8), torch.arange(10000) % 10)
    dl.write_imageset(dl._cache_file("hub", dl.HUB_DATASET, "test"), whole)  # as a finished download left it
    monkeypatch.setattr(dl, "from_torchvision", lambda *a, **k: pytest.fail("went past the cache"))
    got = dl.download("test", progress=False)
    assert torch.equal(got.labels, whole.labels) and got.classes == CLASSES
    assert dl.downloaded_from("test") == f"the Hugging Face Hub copy {dl.HUB_DATASET}"
    assert dl.downloaded_from("train") == "torchvision's download"  # nothing of train is cached
