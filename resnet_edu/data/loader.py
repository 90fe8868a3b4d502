"""The training loader: the whole uint8 dataset on the device, batched augmentation there.

Random crop and horizontal flip are batched tensor operations on the device (the
KellerJordan/cifar10-airbench way): no DataLoader workers, no PIL in the training loop.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .sets import ImageSet, check_labels

MEAN = (0.4914, 0.4822, 0.4465)  # CIFAR-10 training set, per channel, pixel values in [0, 1]
STD = (0.2470, 0.2435, 0.2616)


# ---- augmentation as batched tensor functions -----------------------------------------------


def crop(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, pad: int) -> torch.Tensor:
    """Zero-pad by `pad` and crop every image back to its size at offset (dy[i], dx[i]) in [0, 2 pad]."""
    b, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))  # (B, C, H+2p, W+2p)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images where `mask` (B,) is True."""
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `pad` and crop back at a random offset per image (He et al. 2015, Sec. 4.2)."""
    dy, dx = torch.randint(0, 2 * pad + 1, (2, x.shape[0]), generator=generator).to(x.device)
    return crop(x, dy, dx, pad)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    return flip(x, (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device))


def _stats(device: torch.device | str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The CIFAR-10 mean and std as (1, 3, 1, 1) tensors on `device`, scaled for uint8 input."""
    mean = torch.tensor(MEAN, dtype=dtype).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, dtype=dtype).view(1, 3, 1, 1) * 255
    return mean.to(device), std.to(device)


def normalize(x: torch.Tensor, dtype: torch.dtype = torch.float32, stats=None) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> standardised floats with the CIFAR-10 mean and std.

    `stats`: (mean, std) from `_stats` already on the device, so a loop makes no host copies.
    """
    mean, std = stats if stats is not None else _stats(x.device, dtype)
    return (x.to(dtype) - mean) / std


class DeviceLoader:
    """Batches from an `ImageSet` kept on `device`: shuffle, crop, flip and normalise there.

    The same `seed` gives the same batches in every run, on every device. The epoch's permutation
    and augmentation are drawn once per epoch and copied to the device in one go: no per-batch host
    copies or synchronisations. With `world_size` > 1 each rank sees its own, equally long shard of
    every epoch's permutation (training drops the remainder, so DDP ranks take equal steps).
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
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch size must be a positive whole number, got {batch_size!r}")
        check_labels(data)
        self.images = data.images.to(device)  # uint8 (N, 3, H, W): 4x smaller than floats
        self.labels = data.labels.to(device)
        self.classes = data.classes
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.augment = train if augment is None else augment
        self.drop_last = train if drop_last is None else drop_last
        if world_size <= 0 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank {rank} and world_size {world_size}")
        self.channels_last, self.rank, self.world_size = channels_last, rank, world_size
        self._stats = _stats(self.images.device, torch.float32)  # cached: no per-batch copies
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
            idx = idx[: n - n % self.world_size]  # equal shards: every rank takes the same steps
        return idx[self.rank :: self.world_size]

    def __len__(self) -> int:
        n = len(self._indices())
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = self.images.device
        idx = self._indices()
        n_batches = len(self)
        if self.augment:  # the whole epoch's randomness, drawn once and moved in one copy
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch + 7919)
            offsets = torch.randint(0, 2 * 4 + 1, (2, len(idx)), generator=g)  # dy, dx in [0, 8]
            draws = torch.cat([offsets, torch.randint(0, 2, (1, len(idx)), generator=g)])  # + flip
        self.epoch += 1
        idx = idx.to(device)
        if self.augment:
            dy, dx, flips = draws.to(device).unbind(0)
        for start in range(0, n_batches * self.batch_size, self.batch_size):
            sl = slice(start, start + self.batch_size)
            b = idx[sl]
            x = self.images[b]
            if self.augment:
                x = flip(crop(x, dy[sl], dx[sl], 4), flips[sl].bool())
            x = normalize(x, stats=self._stats)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[b]
