"""The training loader: the whole uint8 dataset on the device, batched augmentation there.

Random crop and horizontal flip are batched tensor operations on the device (the
KellerJordan/cifar10-airbench way): no DataLoader workers, no PIL in the training loop.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .data import ImageSet, check_labels

MEAN = (0.4914, 0.4822, 0.4465)  # CIFAR-10 training set, per channel, pixel values in [0, 1]
STD = (0.2470, 0.2435, 0.2616)


# ---- augmentation as batched tensor functions -----------------------------------------------


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `pad` and crop back at a random offset per image (He et al. 2015, Sec. 4.2)."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))  # (B, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def normalize(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> standardised floats with the CIFAR-10 mean and std."""
    mean = torch.tensor(MEAN, device=x.device, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device, dtype=dtype).view(1, 3, 1, 1)
    return (x.to(dtype) / 255 - mean) / std


class DeviceLoader:
    """Batches from an `ImageSet` kept on `device`: shuffle, crop, flip and normalise there.

    The same `seed` gives the same batches in every run, on every device. With `world_size` > 1
    each rank sees its own shard of every epoch's permutation (for DistributedDataParallel).
    """

    def __init__(
        self,
        data: ImageSet,
        *,
        batch_size: int = 128,
        train: bool = True,
        device: str | torch.device = "cpu",
        seed: int = 0,
        augment: bool | None = None,
        drop_last: bool | None = None,
        channels_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        if batch_size <= 0:
            raise ValueError(f"batch size must be positive, got {batch_size}")
        check_labels(data)
        self.images = data.images.to(device)  # uint8 (N, 3, H, W): 4x smaller than floats
        self.labels = data.labels.to(device)
        self.classes = data.classes
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.augment = train if augment is None else augment
        self.drop_last = train if drop_last is None else drop_last
        self.channels_last, self.rank, self.world_size = channels_last, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass the `epoch`-th one (0-based), e.g. when resuming from a checkpoint."""
        self.epoch = epoch

    def _indices(self) -> torch.Tensor:
        n = len(self.labels)
        if not self.train:
            idx = torch.arange(n)
        else:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            idx = torch.randperm(n, generator=g)
        return idx[self.rank :: self.world_size]

    def __len__(self) -> int:
        n = len(self._indices())
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        idx = self._indices().to(self.images.device)
        n_batches = len(self)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch + 7919)
        self.epoch += 1
        for start in range(0, n_batches * self.batch_size, self.batch_size):
            b = idx[start : start + self.batch_size]
            x = self.images[b]
            if self.augment:
                x = random_flip(random_crop(x, 4, g), g)
            x = normalize(x)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[b]


def downsample(data: ImageSet, size: int) -> ImageSet:
    """The images average-pooled to `size` x `size` (a cheap CPU stand-in; the nets are size-agnostic)."""
    images = torch.nn.functional.adaptive_avg_pool2d(data.images.float(), size).round().to(torch.uint8)
    return ImageSet(images, data.labels, data.classes)
