"""Benchmarks behind `python -m resnet_edu bench ...`: each returns a dict of measured numbers."""

from __future__ import annotations

from pathlib import Path


def bench_landscape(
    *, device: str = "cpu", grid: int = 11, n_images: int = 512, seed: int = 0, rounds: int = 2
) -> dict:
    """Seconds per landscape point, ours against the `loss-landscapes` package (3.0.6), in one run.

    The same ResNet-20 in eval mode (BN biases set to small non-zero values, without which the
    package's filter normalisation divides by zero), the same `n_images` synthetic CIFAR-sized
    images, filter-normalised directions. Ours evaluates the full grid x grid plane with
    `landscape.random_plane`; the package, about as slow per point as a plain eager forward pass, is
    timed on a 3 x 3 plane (`loss_landscapes.random_plane`, steps=3) to keep the run short: compare
    seconds per point. The two alternate for `rounds` rounds (which goes first alternates too) and
    each keeps its best, so a burst of load elsewhere on the machine does not decide the ratio.
    """
    import copy
    import time

    import torch
    import torch.nn.functional as F

    from .data.loader import normalize
    from .data.sets import synthetic_cifar
    from .measure.landscape import random_plane
    from .nets.models import build_model

    if n_images <= 0 or grid <= 0 or rounds <= 0:
        raise ValueError(f"n_images, grid and rounds must be positive, got {n_images}, {grid}, {rounds}")
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

    def ours() -> tuple[float, float | None]:
        start = time.perf_counter()
        plane = random_plane(model, (x, y), grid=grid, seed=seed, batch_size=batch_size)
        origin = float(plane.loss[grid // 2, grid // 2]) if grid % 2 else None
        return (time.perf_counter() - start) / plane.loss.size, origin

    def theirs() -> float:
        import loss_landscapes
        from loss_landscapes.metrics import Loss

        start = time.perf_counter()
        net = copy.deepcopy(model)
        loss_landscapes.random_plane(
            net, Loss(F.cross_entropy, x, y), distance=1, steps=3, deepcopy_model=False
        )
        return (time.perf_counter() - start) / 9

    ours_runs, theirs_runs, origin, failure = [], [], None, None
    for r in range(rounds):
        for side in ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours"):
            if side == "ours":
                s_per_point, origin = ours()
                ours_runs.append(s_per_point)
            elif failure is None:
                try:
                    theirs_runs.append(theirs())
                except Exception as e:  # not installed, or its CPU-only code on another device
                    failure = f"loss-landscapes failed: {type(e).__name__}: {e}"
    best_ours = min(ours_runs)
    best_theirs = min(theirs_runs) if theirs_runs else None
    return dict(
        model="resnet20",
        device=device,
        n_images=n_images,
        grid=grid,
        seed=seed,
        rounds=rounds,
        threads=torch.get_num_threads(),
        ours_points=grid * grid,
        ours_s_per_point=best_ours,
        ours_runs=ours_runs,
        theirs_points=9,
        theirs_s_per_point=best_theirs,
        theirs_runs=theirs_runs,
        speedup=best_theirs / best_ours if best_theirs else None,
        ours_loss_at_origin=origin,
        eager_loss_at_origin=eager_loss,
        eager_forward_s=eager_s,
        note=failure
        or f"loss-landscapes timed on a 3x3 plane, ours on {grid}x{grid}; s per point, best "
        f"of {rounds} alternating rounds",
    )


# ---- training throughput: `fit` with the on-device loader against the tutorial DataLoader loop ----


class PILDataset:
    """A torchvision-style dataset over an `ImageSet`: one PIL image per item, then `transform`.

    What `torchvision.datasets.CIFAR10` does, so the reference loop pays what tutorials pay.
    """

    def __init__(self, data, transform):
        self.images = data.images.permute(0, 2, 3, 1).numpy()  # (N, H, W, 3) uint8, as PIL wants
        self.labels = data.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def reference_images_per_s(
    model, data, *, device, steps: int, warmup: int, batch_size: int = 128, workers: int = 2
) -> float:
    """Images/s of the loop tutorials write: PIL transforms, DataLoader workers, fp32, SGD."""
    import time

    import torch
    import torchvision.transforms as T

    from .data.loader import MEAN, STD

    transform = T.Compose(
        [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)]
    )
    loader = torch.utils.data.DataLoader(
        PILDataset(data, transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=torch.device(device).type == "cuda",
        drop_last=True,
    )
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    criterion = torch.nn.CrossEntropyLoss()
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    batches = iter(loader)
    for i in range(warmup + steps):
        if i == warmup:
            sync()
            start = time.perf_counter()
        x, y = next(batches)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    sync()
    return steps * batch_size / (time.perf_counter() - start)


def ours_images_per_s(
    model, data, *, device, steps: int, warmup: int, batch_size: int = 128, compile: bool = False
) -> float:
    """Images/s of `train.fit`'s step loop (data on the device, batched augmentation, "auto" precision)."""
    from .data.sets import ImageSet
    from .training.config import TrainConfig
    from .training.fit import fit

    cuda = device.startswith("cuda")
    cfg = TrainConfig(
        epochs=1, batch_size=batch_size, lr=0.01, device=device, channels_last=cuda, compile=compile
    )
    head = lambda n: ImageSet(data.images[:n], data.labels[:n], data.classes)
    if warmup:  # the allocator, cuDNN autotuning and caches settle before the timed run
        fit(model, head(warmup * batch_size), None, cfg, progress=False)
    history = fit(model, head(steps * batch_size), None, cfg, progress=False)
    return history.records[0]["images_per_s"]


def bench_train(
    *,
    device: str = "auto",
    models: tuple[str, ...] = ("resnet18", "simplecnn"),
    steps: int | None = None,
    warmup: int | None = None,
    batch_size: int | None = None,
    workers: int = 2,
    rounds: int = 2,
    data: str | None = None,
    seed: int = 0,
    compile: bool = False,
) -> dict:
    """Training images/s, ours against the tutorial loop, for each model on one device.

    The same model (same initial weights), batch size and number of steps for both paths; synthetic
    CIFAR-shaped images unless `data` points at CIFAR-10. The two paths alternate for `rounds` rounds
    and each keeps its best, so a burst of load from other processes on a shared machine does not
    decide the ratio. Defaults: 2 timed steps after 1 warm-up on the CPU (about two minutes for
    ResNet18 and SimpleCNN on two cores), 50 after 10 on a GPU.
    """
    import copy

    import torch

    from .data.sets import balanced_subset, synthetic_cifar
    from .data.sources import load_cifar10
    from .nets.models import build_model
    from .training.config import TrainConfig
    from .training.records import run_meta
    from .training.seeded import over_seeds

    dev = str(TrainConfig(device=device).resolved_device())
    gpu = dev.startswith("cuda")
    steps = steps if steps is not None else (50 if gpu else 2)
    warmup = warmup if warmup is not None else (10 if gpu else 1)
    batch_size = batch_size or (512 if gpu else 128)
    if steps <= 0 or warmup < 0 or rounds <= 0:
        raise ValueError(f"steps and rounds must be positive, warmup >= 0; got {steps}, {rounds}, {warmup}")
    per_class = -(-(steps + warmup) * batch_size // 10)
    images = balanced_subset(load_cifar10(data), per_class) if data else synthetic_cifar(per_class, seed=seed)
    kw = {"device": dev, "steps": steps, "warmup": warmup, "batch_size": batch_size}
    ours_kw = kw | {"compile": compile}

    def run(model, name: str, seed: int) -> dict:
        twin = copy.deepcopy(model)  # the same initial weights for the reference loop
        ours, ref = [], []
        for r in range(rounds):  # alternate which path goes first
            for path in ("reference", "ours") if r % 2 == 0 else ("ours", "reference"):
                if path == "ours":
                    ours.append(ours_images_per_s(model, images, **ours_kw))
                else:
                    ref.append(reference_images_per_s(twin, images, workers=workers, **kw))
        best = dict(ours_images_per_s=max(ours), reference_images_per_s=max(ref), ratio=max(ours) / max(ref))
        return best | {"ours_runs": ours, "reference_runs": ref}

    builders = {name: (lambda name=name: build_model(name)) for name in models}
    rows = [{k: v for k, v in r.items() if k != "seed"} for r in over_seeds(builders, [seed], run)]
    meta = run_meta(dev, seed=seed)
    setup = {
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "rounds": rounds,
        "reference_workers": workers,
        "data": Path(data).name if data else "synthetic",  # the copy's name, never a machine's path
        "threads": torch.get_num_threads(),
        "ours_precision": TrainConfig(device=dev).resolved_precision(),
        "ours_channels_last": gpu,
        "ours_compile": compile,
    }
    return {**meta, **setup, "results": rows}
