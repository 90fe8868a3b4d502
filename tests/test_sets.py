"""Image sets in memory: synthetic stand-ins, balanced subsets, refused sizes and labels."""

import pytest
import torch

from resnet_edu.data import (
    DataError,
    ImageSet,
    balanced_subset,
    synthetic_cifar,
)
from resnet_edu.data.loader import DeviceLoader
from resnet_edu.data.sets import MAX_PER_CLASS, downsample


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
    data = synthetic_cifar(MAX_PER_CLASS, num_classes=1, size=4)
    assert data.images.shape == (10_000, 3, 4, 4) and data.labels.bincount().tolist() == [10_000]


def test_balanced_subset_refuses_absurd_sizes_naming_the_argument():
    data = synthetic_cifar(3)
    for n in (99_999_999, 31, -3, 1.5):
        with pytest.raises(DataError, match="n_per_class must be a positive whole number no larger than 30"):
            balanced_subset(data, n)
    with pytest.raises(DataError, match="n_per_class: class 'pattern0' has 3 images, fewer than 4 asked"):
        balanced_subset(data, 4)
    assert len(balanced_subset(data, 3)) == 30


def test_empty_set_is_refused():
    with pytest.raises(DataError, match="empty"):
        DeviceLoader(ImageSet(torch.zeros(0, 3, 32, 32, dtype=torch.uint8), torch.zeros(0, dtype=torch.long)))


def test_labels_out_of_range_are_refused():
    bad = ImageSet(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), torch.tensor([0, 10]))
    with pytest.raises(DataError, match="0..9, found 0..10"):
        DeviceLoader(bad)


def test_downsample_averages_pixels():
    data = synthetic_cifar(1, seed=0)
    small = downsample(data, 16)
    assert small.images.shape == (10, 3, 16, 16) and small.images.dtype == torch.uint8
    expected = data.images[0, 0, :2, :2].float().mean().round()
    assert small.images[0, 0, 0, 0] == expected
