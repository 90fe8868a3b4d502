"""Benchmarks behind `python -m resnet_edu bench ...`: each returns a dict of measured numbers."""

from __future__ import annotations


def bench_landscape(*, device: str = "cpu", grid: int = 11, n_images: int = 512, seed: int = 0) -> dict:
    """Seconds per landscape point, ours against the `loss-landscapes` package (3.0.6), in one run.

    The same ResNet-20 in eval mode (BN biases set to small non-zero values, without which the
    package's filter normalisation divides by zero), the same `n_images` synthetic CIFAR-sized
    images, filter-normalised directions. Ours evaluates the full grid x grid plane with
    `landscape.random_plane`; the package, about as slow per point as a plain eager forward pass, is
    timed on a 3 x 3 plane (`loss_landscapes.random_plane`, steps=3) to keep the run short: compare
    seconds per point. Each side's setup (directions, tracing) is included in its time.
    """
    import copy
    import time

    import torch
    import torch.nn.functional as F

    from .data import normalize, synthetic_cifar
    from .landscape import random_plane
    from .models import build_model

    torch.manual_seed(seed)
    model = build_model("resnet20").to(device).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.copy_(1e-3 * torch.randn(m.bias.shape, generator=g))
    data = synthetic_cifar(-(-n_images // 10), seed=seed)
    x, y = normalize(data.images[:n_images]).to(device), data.labels[:n_images].to(device)
    batch_size = 128 if device == "cpu" else n_images  # CPU: chunks that stay in cache

    with torch.no_grad():  # warm-up, and the reference loss at the origin
        start = time.perf_counter()
        eager_loss = float(F.cross_entropy(model(x), y))
        eager_s = time.perf_counter() - start

    start = time.perf_counter()
    ours = random_plane(model, (x, y), grid=grid, seed=seed, batch_size=batch_size)
    ours_s = (time.perf_counter() - start) / ours.loss.size

    result = dict(
        model="resnet20", device=device, n_images=n_images, grid=grid, seed=seed,
        threads=torch.get_num_threads(), ours_points=ours.loss.size, ours_s_per_point=ours_s,
        ours_loss_at_origin=float(ours.loss[grid // 2, grid // 2]) if grid % 2 else None,
        eager_loss_at_origin=eager_loss, eager_forward_s=eager_s,
    )  # fmt: skip
    try:
        import loss_landscapes
        from loss_landscapes.metrics import Loss

        steps = min(grid, 3)
        start = time.perf_counter()
        loss_landscapes.random_plane(
            copy.deepcopy(model), Loss(F.cross_entropy, x, y), distance=1, steps=steps, deepcopy_model=False
        )
        theirs_s = (time.perf_counter() - start) / steps**2
        result.update(theirs_points=steps**2, theirs_s_per_point=theirs_s, speedup=theirs_s / ours_s)
        result["note"] = (
            f"loss-landscapes timed on a {steps}x{steps} plane, ours on {grid}x{grid}; s per point"
        )
    except Exception as e:  # not installed, or its CPU-only code on another device
        result.update(
            theirs_s_per_point=None, speedup=None, note=f"loss-landscapes failed: {type(e).__name__}: {e}"
        )
    return result
