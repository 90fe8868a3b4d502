"""Benchmarks behind `python -m resnet_edu bench ...`: each returns a dict of measured numbers."""

from __future__ import annotations


def bench_landscape(*, device: str = "cpu", grid: int = 11, n_images: int = 512, seed: int = 0) -> dict:
    """Seconds per landscape point, ours against the `loss-landscapes` package (3.0.6).

    The same ResNet-20 (eval mode), the same `n_images` synthetic CIFAR-sized images and a
    grid x grid plane with filter-normalised directions, evaluated by `landscape.random_plane` and by
    `loss_landscapes.random_plane`. Returns seconds per point for both and the speed-up ratio.
    """
    raise NotImplementedError
