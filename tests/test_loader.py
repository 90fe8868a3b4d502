import torch

from resnet_edu.data import ImageSet, synthetic_cifar
from resnet_edu.data import loader as L
from resnet_edu.data.loader import DeviceLoader, random_crop, random_flip


def test_loader_same_seed_same_batches_and_epochs_differ():
    data = synthetic_cifar(8)
    a = [x for x, _ in DeviceLoader(data, batch_size=16, seed=3)]
    b = [x for x, _ in DeviceLoader(data, batch_size=16, seed=3)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    loader = DeviceLoader(data, batch_size=16, seed=3)
    first, second = [y for _, y in loader], [y for _, y in loader]
    assert not all(torch.equal(u, v) for u, v in zip(first, second))
    loader.set_epoch(0)
    assert all(torch.equal(u, v) for u, v in zip(first, [y for _, y in loader]))


def test_loader_covers_each_image_once_per_epoch_and_shards():
    data = ImageSet(torch.zeros(10, 3, 4, 4, dtype=torch.uint8), torch.arange(10) % 10)
    seen = torch.cat([y for _, y in DeviceLoader(data, batch_size=3, train=False)])
    assert seen.tolist() == list(range(10))  # test loaders keep order and the last partial batch
    train = DeviceLoader(data, batch_size=5, augment=False)
    assert sorted(torch.cat([y for _, y in train]).tolist()) == list(range(10))
    shards = [DeviceLoader(data, batch_size=5, rank=r, world_size=2, seed=1) for r in range(2)]
    together = torch.cat([torch.cat([y for _, y in s]) for s in shards])
    assert sorted(together.tolist()) == list(range(10))


def test_crop_matches_a_slice_of_the_padded_image():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    out = random_crop(x, 2, g)
    g = torch.Generator().manual_seed(0)
    dy, dx = torch.randint(0, 5, (2,), generator=g), torch.randint(0, 5, (2,), generator=g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        assert torch.equal(out[i], padded[i, :, dy[i] : dy[i] + 8, dx[i] : dx[i] + 8])


def test_flip_mirrors_some_images_and_keeps_the_rest():
    x = torch.randn(64, 3, 4, 4)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(2)) for o, i in zip(out, x)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x)])
    assert (flipped | kept).all() and 10 < flipped.sum() < 54


def test_augmented_batches_keep_shape_and_value_range():
    data = synthetic_cifar(4)
    lo = (0 - max(L.MEAN)) / min(L.STD)
    hi = (1 - min(L.MEAN)) / min(L.STD)
    for x, y in DeviceLoader(data, batch_size=8, seed=0, channels_last=True):
        assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32
        assert x.is_contiguous(memory_format=torch.channels_last)
        assert lo - 1e-5 <= x.min() and x.max() <= hi + 1e-5
        assert y.dtype == torch.long


# ---- lessons 04-06
